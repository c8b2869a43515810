#pragma once
// --format and --filter for the list and inspect commands, as Docker 20.10 has them.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/network/network.hpp"
#include "cppcker/runtime/container.hpp"

namespace cppcker::cli {

// One listed object: its fields as Docker's row type has them (what {{json .}} prints, all strings,
// keys sorted) and its labels for the row's method {{.Label "key"}}.
struct FormatRow {
  nlohmann::ordered_json fields;
  std::map<std::string, std::string> labels;
};

// A list command's layout: the fields' column headers, and its default table.
struct ListLayout {
  std::map<std::string, std::string> headers;  // field -> Docker's header ("ID" -> "CONTAINER ID")
  std::string default_table;                   // "table {{.ID}}\t{{.Image}}..."
};

// Docker's --format of a list: "" or "table" (the default table), "json" (one row object per line),
// "table TEMPLATE" (a header row, then tab-separated cells laid out as Docker's tabwriter does), or
// TEMPLATE (its output and a newline per row). `\t` and `\n` written in the text stand for a tab and a
// newline, as in Docker. Throws Error (125) for a template Go would not parse or could not run.
std::string render_list(const std::string& format, const ListLayout& layout, const std::vector<FormatRow>& rows);

// Docker's `... inspect [-f TEMPLATE] NAME...`: without a template one JSON array (print_inspected);
// with one, the template's output and a newline for each object. Names it fails on are reported as
// "Error: ..." lines after the output; returns the exit code: 1 if any failed.
int print_inspected_as(const std::string& format, const std::vector<std::string>& names,
                       const std::function<nlohmann::ordered_json(const std::string&)>& describe);

// "k=v,k2=v2" (sorted), as Docker's .Labels column.
std::string labels_text(const std::map<std::string, std::string>& labels);
// Go's time.Time.String() in local time, Docker's CreatedAt column: "2024-01-02 03:04:05 +0000 UTC".
std::string created_at_text(const std::string& rfc3339);

// Docker's `network inspect` object (defined in src/cli/network.cpp; `inspect` uses it too).
nlohmann::ordered_json inspect_network(const NetworkStore& networks, const ContainerStore& containers,
                                       const NetworkRecord& n);

}  // namespace cppcker::cli
