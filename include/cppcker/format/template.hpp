#pragma once
// Go's text/template as Docker users write it for --format and inspect -f, over JSON values: field paths,
// variables, if/else/range/with, pipelines, Go's builtins (and, or, not, eq..ge, index, len, print, printf,
// println) and Docker's (json, join, split, lower, upper, title, pad, truncate). Values print as Go's fmt
// prints what Docker decodes JSON into: strings raw, integral numbers as integers, null as <nil>, arrays as
// [a b], objects as map[k:v] with sorted keys; a missing field as <no value>.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cppcker/util/humanize.hpp"

namespace cppcker::format {

using Value = nlohmann::ordered_json;

// A method of the object a template runs on, as Docker's row types have ({{.Label "key"}}): looked up
// when the object has no field of that name.
using Method = std::function<Value(const std::vector<Value>& arguments)>;
using Methods = std::map<std::string, Method>;

struct Node;

class Template {
 public:
  // Throws Error (exit 1, as Docker's client) with Go's message: `template: :1: unexpected "}" in operand`.
  static Template parse(std::string_view text);

  // Throws Error (exit 1, as Docker's client) with Go's message: `template: :1:2: executing "" at <.A.B>: nil pointer ...`.
  std::string execute(const Value& data, const Methods& methods = {}) const;
  // Docker's header pass of a `table` format: json, join, split, lower, upper, title, pad and truncate
  // return their first argument unchanged, so that `{{upper .Names}}` is headed NAMES.
  std::string execute_header(const Value& data, const Methods& methods = {}) const;

 private:
  std::shared_ptr<const Node> root_;
};

using ::cppcker::go_quote;  // util/humanize.hpp: Go's strconv.Quote

// Go's fmt.Sprint of a decoded JSON value.
std::string print_value(const Value& value);

}  // namespace cppcker::format
