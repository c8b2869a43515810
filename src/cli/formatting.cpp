// --format for the list and inspect commands: Docker's table/json/template forms over the format/ module.
#include "cppcker/cli/formatting.hpp"

#include <ctime>
#include <iostream>

#include "cppcker/cli/commands.hpp"
#include "cppcker/format/template.hpp"
#include "cppcker/util/error.hpp"
#include "cppcker/util/humanize.hpp"

namespace cppcker::cli {

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = 0; (at = text.find(from, at)) != std::string::npos; at += to.size()) text.replace(at, from.size(), to);
  return text;
}

format::Methods label_methods(const std::map<std::string, std::string>& labels) {
  return {{"Label", [&labels](const std::vector<format::Value>& args) {
             if (args.size() != 1 || !args[0].is_string())
               throw Error("wrong number of args for Label: want 1 got " + std::to_string(args.size()), 1);
             auto it = labels.find(args[0].get<std::string>());
             return format::Value(it == labels.end() ? "" : it->second);
           }}};
}

// The header of a {{.Label "com.example.key"}} column: the key's last part, as Docker names it.
format::Methods header_methods() {
  return {{"Label", [](const std::vector<format::Value>& args) {
             std::string key = args.size() == 1 && args[0].is_string() ? args[0].get<std::string>() : "";
             key = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
             for (char& c : key) c = c == '-' || c == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
             return format::Value(key);
           }}};
}

// Docker's wording for a template that does not parse.
format::Template parse_template(const std::string& text) {
  try {
    return format::Template::parse(text);
  } catch (const Error& e) {
    throw Error(std::string("Template parsing error: ") + e.what(), e.exit_code());
  }
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t begin = 0;
  for (std::size_t end; (end = text.find('\n', begin)) != std::string::npos; begin = end + 1)
    lines.push_back(text.substr(begin, end - begin));
  if (begin < text.size()) lines.push_back(text.substr(begin));
  return lines;
}

}  // namespace

std::string render_list(const std::string& format, const ListLayout& layout, const std::vector<FormatRow>& rows) {
  std::string text = format.empty() ? "table" : format;
  if (text == "json") text = "{{json .}}";
  bool table = text.rfind("table", 0) == 0;
  if (table) text = text.substr(5);
  if (table && text.find_first_not_of(' ') == std::string::npos) text = layout.default_table.substr(5);
  // Docker trims spaces around the template and reads \t and \n written in it as tab and newline.
  text.erase(0, text.find_first_not_of(' '));
  text.erase(text.find_last_not_of(' ') + 1);
  text = replace_all(replace_all(text, "\\t", "\t"), "\\n", "\n");
  auto tmpl = parse_template(text);

  std::string out;
  if (!table) {
    for (const auto& r : rows) out += tmpl.execute(r.fields, label_methods(r.labels)) + "\n";
    return out;
  }
  format::Value header = format::Value::object();
  for (const auto& [field, name] : layout.headers) header[field] = name;
  std::string all = tmpl.execute_header(header, header_methods()) + "\n";
  for (const auto& r : rows) all += tmpl.execute(r.fields, label_methods(r.labels)) + "\n";
  std::vector<std::vector<std::string>> cells;
  for (const auto& line : split_lines(all)) cells.push_back(split(line, '\t'));
  return format_table(cells);
}

int print_inspected_as(const std::string& format, const std::vector<std::string>& names,
                       const std::function<nlohmann::ordered_json(const std::string&)>& describe) {
  if (format.empty()) return print_inspected(names, describe);
  auto tmpl = parse_template(format);  // a bad template fails before any object is looked at
  std::vector<std::string> errors;
  for (const auto& n : names) {
    nlohmann::ordered_json object;
    try {
      object = describe(n);
    } catch (const Error& e) {
      errors.push_back(e.what());
      continue;
    }
    std::cout << tmpl.execute(object) << "\n";
  }
  std::cout.flush();
  for (const auto& e : errors) std::cerr << "Error: " << e << "\n";
  return errors.empty() ? 0 : 1;
}

std::string labels_text(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

std::string created_at_text(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  if (!t) return "";
  std::time_t secs = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
  return buf;
}

}  // namespace cppcker::cli
