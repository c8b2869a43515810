// list [--format table|json] [-q]: every container under --root, as runc lists them.
#include <iostream>

#include "cppcker/ocicli/ocicli.hpp"
#include "cppcker/util/error.hpp"

namespace cppcker::ocicli {

namespace {
// Go's text/tabwriter as runc's list uses it (minwidth 12, padding 3): a column is its widest cell plus 3,
// at least 12; the last column is not padded.
std::string tabulate(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows)
    for (std::size_t i = 0; i + 1 < row.size(); ++i) {
      if (width.size() <= i) width.resize(i + 1, 0);
      width[i] = std::max(width[i], row[i].size());
    }
  std::string out;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(std::max<std::size_t>(width[i] + 3, 12) - row[i].size(), ' ');
    }
    out += "\n";
  }
  return out;
}
}  // namespace

void register_list(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("list", "lists containers started by runc with the given root");
  auto format = std::make_shared<std::string>("table");
  auto quiet = std::make_shared<bool>(false);
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->add_option("-f,--format", *format, "select one of: table or json");
  cmd->add_flag("-q,--quiet", *quiet, "display only container IDs");
  cmd->add_option("args", *args, "")->group("");
  set_action(cmd, [&g, format, quiet, args] {
    check_args(g, "list", args->size(), 0, '=');
    BundleStore store = g.store();
    std::vector<BundleRecord> records = store.list();
    if (*quiet) {
      for (const auto& r : records) std::cout << r.id << "\n";
      return 0;
    }
    if (*format == "json") {
      // runc encodes a nil slice: "null" when there is no container.
      nlohmann::ordered_json out = records.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json::array();
      for (const auto& r : records) out.push_back(state_json(store, r));
      std::cout << out.dump() << "\n";
      return 0;
    }
    if (*format != "table") throw Error("invalid format option");
    std::vector<std::vector<std::string>> rows = {{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}};
    for (const auto& r : records) {
      oci::State s = store.state(r);
      rows.push_back({r.id, std::to_string(s.pid), s.status, s.bundle, r.created, r.owner});
    }
    std::cout << tabulate(rows);
    return 0;
  });
}

}  // namespace cppcker::ocicli
