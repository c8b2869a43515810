#include "cppcker/format/template.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <set>

#include "cppcker/util/error.hpp"
#include "cppcker/util/word_list.hpp"

namespace cppcker::format {

namespace {

// ---------------------------------------------------------------------------------------------------------
// Lexer: the text around actions, and each action's tokens, as Go's text/template lexes them.

enum class Tok {
  Text, Left, Right, Field, Dot, Variable, Identifier, Keyword, String, Number, Bool, Nil,
  Pipe, LParen, RParen, Declare, Assign, Comma, Char, Error, Eof
};

struct Token {
  Tok type;
  std::string text;      // source text (Text: the text after trimming; String: unquoted value)
  std::size_t pos = 0;   // byte offset in the template
  std::size_t end = 0;   // byte offset after the token
  bool spaced = false;   // whitespace right before it (a field right after a variable or ")" chains)
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }

constexpr std::array<std::string_view, 10> kKeywords = {"if",     "else",     "end",   "range", "with",
                                                        "define", "template", "block", "break", "continue"};
bool is_keyword(std::string_view word) { return in_word_list(kKeywords, word); }

// Go's unquoting of "..." literals; nullopt for a malformed escape.
std::optional<std::string> unquote(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= body.size()) return std::nullopt;
    switch (body[i]) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case '\'': out += '\''; break;
      case 'x': case 'u': case 'U': {
        std::size_t digits = body[i] == 'x' ? 2 : body[i] == 'u' ? 4 : 8;
        if (i + digits >= body.size()) return std::nullopt;
        unsigned long code = 0;
        auto r = std::from_chars(body.data() + i + 1, body.data() + i + 1 + digits, code, 16);
        if (r.ec != std::errc() || r.ptr != body.data() + i + 1 + digits) return std::nullopt;
        i += digits;
        if (digits == 2) {
          out += static_cast<char>(code);
        } else if (code < 0x80) {
          out += static_cast<char>(code);
        } else if (code < 0x800) {
          out += static_cast<char>(0xc0 | (code >> 6));
          out += static_cast<char>(0x80 | (code & 0x3f));
        } else if (code < 0x10000) {
          out += static_cast<char>(0xe0 | (code >> 12));
          out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
          out += static_cast<char>(0x80 | (code & 0x3f));
        } else {
          out += static_cast<char>(0xf0 | (code >> 18));
          out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
          out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
          out += static_cast<char>(0x80 | (code & 0x3f));
        }
        break;
      }
      default:
        if (body[i] >= '0' && body[i] <= '7' && i + 2 < body.size()) {
          out += static_cast<char>(((body[i] - '0') << 6) | ((body[i + 1] - '0') << 3) | (body[i + 2] - '0'));
          i += 2;
          break;
        }
        return std::nullopt;
    }
  }
  return out;
}

std::vector<Token> lex(std::string_view src) {
  std::vector<Token> out;
  std::size_t p = 0;
  bool trim_next = false;  // the previous action ended with " -}}"
  auto error = [&](std::string message, std::size_t at) { out.push_back({Tok::Error, std::move(message), at, at}); };
  while (true) {
    std::size_t at = src.find("{{", p);
    std::size_t text_end = at == std::string_view::npos ? src.size() : at;
    std::size_t text_begin = p;
    if (trim_next)
      while (text_begin < text_end && is_space(src[text_begin])) ++text_begin;
    bool trim_left = at != std::string_view::npos && at + 3 < src.size() && src[at + 2] == '-' && is_space(src[at + 3]);
    std::size_t kept_end = text_end;
    if (trim_left)
      while (kept_end > text_begin && is_space(src[kept_end - 1])) --kept_end;
    if (kept_end > text_begin)
      out.push_back({Tok::Text, std::string(src.substr(text_begin, kept_end - text_begin)), text_begin, kept_end});
    if (at == std::string_view::npos) {
      out.push_back({Tok::Eof, "", src.size(), src.size()});
      return out;
    }
    out.push_back({Tok::Left, "{{", at, at + 2});
    p = at + 2 + (trim_left ? 2 : 0);
    trim_next = false;
    // A comment: {{/* ... */}}, nothing else in the action.
    if (src.substr(p, 2) == "/*") {
      std::size_t close = src.find("*/", p + 2);
      if (close == std::string_view::npos) return error("unclosed comment", p), out;
      p = close + 2;
      if (src.substr(p, 4) == " -}}") {
        trim_next = true;
        p += 4;
      } else if (src.substr(p, 2) == "}}") {
        p += 2;
      } else {
        return error("comment ends before closing delimiter", p), out;
      }
      out.pop_back();  // the comment leaves no action behind
      continue;
    }
    bool spaced = false;
    while (true) {
      if (p + 4 <= src.size() && is_space(src[p]) && src[p + 1] == '-' && src.substr(p + 2, 2) == "}}") {
        out.push_back({Tok::Right, "}}", p, p + 4});
        p += 4;
        trim_next = true;
        break;
      }
      if (src.substr(p, 2) == "}}") {
        out.push_back({Tok::Right, "}}", p, p + 2});
        p += 2;
        break;
      }
      if (p >= src.size()) return error("unclosed action", p), out;
      char c = src[p];
      if (is_space(c)) {
        ++p;
        spaced = true;
        continue;
      }
      std::size_t start = p;
      auto push = [&](Tok type, std::string text, std::size_t end) {
        out.push_back({type, std::move(text), start, end, spaced});
        spaced = false;
        p = end;
      };
      auto word_end = [&](std::size_t from) {
        while (from < src.size() && is_alnum(src[from])) ++from;
        return from;
      };
      if (c == '|') push(Tok::Pipe, "|", p + 1);
      else if (c == '(') push(Tok::LParen, "(", p + 1);
      else if (c == ')') push(Tok::RParen, ")", p + 1);
      else if (c == ',') push(Tok::Comma, ",", p + 1);
      else if (c == '=') push(Tok::Assign, "=", p + 1);
      else if (c == ':') {
        if (src.substr(p, 2) != ":=") return error("expected :=", p), out;
        push(Tok::Declare, ":=", p + 2);
      } else if (c == '"') {
        std::size_t q = p + 1;
        while (q < src.size() && src[q] != '"') {
          if (src[q] == '\n') return error("unterminated quoted string", p), out;
          q += src[q] == '\\' ? 2 : 1;
        }
        if (q >= src.size()) return error("unterminated quoted string", p), out;
        auto value = unquote(src.substr(p + 1, q - p - 1));
        if (!value) return error("invalid syntax", p), out;
        push(Tok::String, *value, q + 1);
      } else if (c == '`') {
        std::size_t q = src.find('`', p + 1);
        if (q == std::string_view::npos) return error("unterminated raw quoted string", p), out;
        push(Tok::String, std::string(src.substr(p + 1, q - p - 1)), q + 1);
      } else if (c == '\'') {
        std::size_t q = p + 1;
        while (q < src.size() && src[q] != '\'') q += src[q] == '\\' ? 2 : 1;
        if (q >= src.size()) return error("unterminated character constant", p), out;
        auto value = unquote(src.substr(p + 1, q - p - 1));
        if (!value || value->empty()) return error("malformed character constant", p), out;
        // A character constant is its code point (the first byte suffices for ASCII).
        unsigned char first = static_cast<unsigned char>((*value)[0]);
        push(Tok::Number, std::to_string(first), q + 1);
      } else if (c == '$') {
        push(Tok::Variable, std::string(src.substr(p, word_end(p + 1) - p)), word_end(p + 1));
      } else if (c == '.') {
        if (p + 1 < src.size() && std::isdigit(static_cast<unsigned char>(src[p + 1]))) {
          std::size_t e = p + 1;
          while (e < src.size() && (std::isalnum(static_cast<unsigned char>(src[e])) || src[e] == '.')) ++e;
          push(Tok::Number, std::string(src.substr(p, e - p)), e);
        } else if (p + 1 < src.size() && is_alnum(src[p + 1])) {
          std::size_t e = word_end(p + 1);
          push(Tok::Field, std::string(src.substr(p + 1, e - p - 1)), e);
        } else {
          push(Tok::Dot, ".", p + 1);
        }
      } else if (std::isdigit(static_cast<unsigned char>(c)) ||
                 ((c == '-' || c == '+') && p + 1 < src.size() && std::isdigit(static_cast<unsigned char>(src[p + 1])))) {
        std::size_t e = p + 1;
        while (e < src.size() && (std::isalnum(static_cast<unsigned char>(src[e])) || src[e] == '.' || src[e] == '_' ||
                                  ((src[e] == '-' || src[e] == '+') && (src[e - 1] == 'e' || src[e - 1] == 'E'))))
          ++e;
        push(Tok::Number, std::string(src.substr(p, e - p)), e);
      } else if (is_alnum(c)) {
        std::size_t e = word_end(p);
        std::string word(src.substr(p, e - p));
        Tok type = is_keyword(word)                    ? Tok::Keyword
                   : word == "true" || word == "false" ? Tok::Bool
                   : word == "nil"                     ? Tok::Nil
                                                       : Tok::Identifier;
        push(type, word, e);
      } else if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f) {
        push(Tok::Char, std::string(1, c), p + 1);
      } else {
        char buf[64];
        std::snprintf(buf, sizeof buf, "unrecognized character in action: U+%04X", static_cast<unsigned char>(c));
        return error(buf, p), out;
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Parse tree.

struct Pipeline;

struct Operand {
  enum Kind { Field, Variable, Dot, Literal, Nil, Function, Pipe } kind = Dot;
  std::string name;                  // variable ("$x") or function name
  std::vector<std::string> chain;    // field names after it
  Value literal;
  std::shared_ptr<Pipeline> pipe;    // a parenthesized pipeline
  std::size_t pos = 0;
  std::string text;                  // source, for error messages
};

struct Command {
  std::vector<Operand> args;
  std::size_t pos = 0;
  std::string text;
};

struct Pipeline {
  std::vector<std::string> declared;  // $x :=  /  $k, $v :=
  bool assign = false;                // $x = (an existing variable)
  std::vector<Command> commands;
};

struct Node {
  enum Kind { Text, Action, If, Range, With } kind = Text;
  std::string text;
  Pipeline pipe;
  std::vector<Node> list, else_list;
  std::size_t pos = 0;
};

namespace {

constexpr std::array<std::string_view, 22> kFunctions = {
    "and",  "or",    "not",   "len",   "index", "print", "printf", "println", "eq",  "ne",  "lt",
    "le",   "gt",    "ge",    "json",  "join",  "split", "lower",  "upper",   "title", "pad", "truncate"};

int line_of(std::string_view src, std::size_t pos) {
  return 1 + static_cast<int>(std::count(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(std::min(pos, src.size())), '\n'));
}

std::string describe(const Token& t) {
  switch (t.type) {
    case Tok::Eof: return "EOF";
    case Tok::Right: return "\"}}\"";
    case Tok::Left: return "\"{{\"";
    case Tok::Keyword: return "<" + t.text + ">";
    case Tok::Field: return "<." + t.text + ">";
    default: return "\"" + t.text + "\"";
  }
}

class Parser {
 public:
  explicit Parser(std::string_view src) : src_(src), tokens_(lex(src)) {}

  std::vector<Node> parse_top() {
    std::string terminator;
    auto list = parse_list(terminator);
    if (terminator == "end") fail("unexpected {{end}}", last_pos_);
    if (terminator == "else") fail("unexpected {{else}}", last_pos_);
    return list;
  }

 private:
  [[noreturn]] void fail(const std::string& message, std::size_t pos) {
    throw Error("template: :" + std::to_string(line_of(src_, pos)) + ": " + message, 1);
  }
  const Token& peek() const { return tokens_[i_]; }
  const Token& next() {
    const Token& t = tokens_[i_];
    if (t.type == Tok::Error) fail(t.text, t.pos);
    if (i_ + 1 < tokens_.size()) ++i_;
    return t;
  }
  void expect_right(const std::string& context) {
    const Token& t = next();
    if (t.type != Tok::Right) fail("unexpected " + describe(t) + " in " + context, t.pos);
  }

  std::vector<Node> parse_list(std::string& terminator) {
    std::vector<Node> nodes;
    while (true) {
      if (peek().type == Tok::Error) next();
      const Token& t = next();
      if (t.type == Tok::Eof) {
        terminator = "EOF";
        return nodes;
      }
      if (t.type == Tok::Text) {
        nodes.push_back({Node::Text, t.text, {}, {}, {}, t.pos});
        continue;
      }
      // t is "{{"
      const Token& k = peek();
      last_pos_ = k.pos;
      if (k.type == Tok::Keyword) {
        if (k.text == "end") {
          next();
          expect_right("end");
          terminator = "end";
          return nodes;
        }
        if (k.text == "else") {
          next();
          terminator = "else";
          return nodes;
        }
        if (k.text == "if" || k.text == "range" || k.text == "with") {
          next();
          nodes.push_back(parse_control(k.text, k.pos));
          continue;
        }
        if (k.text == "break" || k.text == "continue") fail("{{" + k.text + "}} outside {{range}}", k.pos);
        fail("{{" + k.text + "}} is not supported", k.pos);
      }
      Node action{Node::Action, "", parse_pipeline("command", false), {}, {}, t.pos};
      nodes.push_back(std::move(action));
    }
  }

  Node parse_control(const std::string& kind, std::size_t pos) {
    Node node{kind == "if" ? Node::If : kind == "range" ? Node::Range : Node::With, "", parse_pipeline(kind, kind == "range"), {}, {}, pos};
    std::string terminator;
    node.list = parse_list(terminator);
    if (terminator == "else") {
      if (kind == "if" && peek().type == Tok::Keyword && peek().text == "if") {
        // {{else if ...}}: an if inside the else branch, sharing this {{end}}.
        std::size_t at = peek().pos;
        next();
        node.else_list.push_back(parse_control("if", at));
        return node;
      }
      expect_right("else");
      node.else_list = parse_list(terminator);
      if (terminator == "else") fail("expected end; found {{else}}", last_pos_);
    }
    if (terminator == "EOF") fail("unexpected EOF", src_.size());
    return node;
  }

  // Up to "}}" (consumed) or, inside parentheses, up to ")" (left for the caller).
  Pipeline parse_pipeline(const std::string& context, bool range, bool in_parens = false) {
    Pipeline p;
    // Declarations: $x := , $x = , and in range $k, $v :=
    if (peek().type == Tok::Variable) {
      std::size_t save = i_;
      std::vector<std::string> vars{next().text};
      if (range && peek().type == Tok::Comma) {
        next();
        if (peek().type != Tok::Variable) fail("range can only initialize variables", peek().pos);
        vars.push_back(next().text);
      }
      if (peek().type == Tok::Declare || (peek().type == Tok::Assign && vars.size() == 1)) {
        p.assign = next().type == Tok::Assign;
        p.declared = vars;
        if (p.declared.size() == 1 && p.declared[0] == "$" ) fail("cannot assign to $", tokens_[save].pos);
      } else if (vars.size() > 1) {
        fail("too many declarations in " + context, tokens_[save].pos);
      } else {
        i_ = save;
      }
    }
    while (true) {
      const Token& t = peek();
      if (t.type == Tok::Error) next();
      if (t.type == Tok::Right || (in_parens && t.type == Tok::RParen)) {
        if (p.commands.empty()) fail("missing value for " + context, t.pos);
        if (t.type == Tok::Right) next();
        return p;
      }
      if (t.type == Tok::Eof) fail("unclosed action", t.pos);
      p.commands.push_back(parse_command(in_parens));
      if (peek().type == Tok::Pipe) {
        std::size_t at = next().pos;
        if (peek().type == Tok::Right || peek().type == Tok::RParen) fail("missing command after |", at);
      }
    }
  }

  Command parse_command(bool in_parens) {
    Command c;
    c.pos = peek().pos;
    std::size_t end = c.pos;
    while (true) {
      const Token& t = peek();
      if (t.type == Tok::Error) next();
      if (t.type == Tok::Pipe || t.type == Tok::Right || (in_parens && t.type == Tok::RParen)) break;
      if (t.type == Tok::RParen) fail("unexpected \")\" in command", t.pos);
      if (!c.args.empty() && !t.spaced) fail("unexpected " + describe(t) + " in operand", t.pos);
      c.args.push_back(parse_operand());
      end = tokens_[i_ - 1].end;
    }
    if (c.args.empty()) fail("empty command", c.pos);
    c.text = std::string(src_.substr(c.pos, end - c.pos));
    return c;
  }

  Operand parse_operand() {
    const Token& t = next();
    Operand o;
    o.pos = t.pos;
    switch (t.type) {
      case Tok::Field:
        o.kind = Operand::Field;
        o.chain.push_back(t.text);
        break;
      case Tok::Variable:
        o.kind = Operand::Variable;
        o.name = t.text;
        break;
      case Tok::Dot:
        o.kind = Operand::Dot;
        break;
      case Tok::String:
        o.kind = Operand::Literal;
        o.literal = t.text;
        break;
      case Tok::Bool:
        o.kind = Operand::Literal;
        o.literal = t.text == "true";
        break;
      case Tok::Nil:
        o.kind = Operand::Nil;
        break;
      case Tok::Number: o.kind = Operand::Literal; o.literal = number(t); break;
      case Tok::Identifier:
        if (!in_word_list(kFunctions, t.text)) fail("function \"" + t.text + "\" not defined", t.pos);
        o.kind = Operand::Function;
        o.name = t.text;
        break;
      case Tok::LParen: {
        o.kind = Operand::Pipe;
        o.pipe = std::make_shared<Pipeline>(parse_pipeline("parenthesized pipeline", false, true));
        const Token& close = next();
        if (close.type != Tok::RParen) fail("unclosed left paren", t.pos);
        break;
      }
      case Tok::Keyword: fail("unexpected <" + t.text + "> in operand", t.pos);
      case Tok::Eof: fail("unclosed action", t.pos);
      default: fail("unexpected " + describe(t) + " in operand", t.pos);
    }
    // Fields chained right after the operand: .A.B, $x.A, (pipeline).A
    while (peek().type == Tok::Field && !peek().spaced) {
      if (o.kind == Operand::Literal || o.kind == Operand::Nil || o.kind == Operand::Function)
        fail("unexpected . after term \"" + t.text + "\"", peek().pos);
      if (o.kind == Operand::Dot) {
        fail("unexpected . after term \".\"", peek().pos);
      }
      o.chain.push_back(next().text);
    }
    o.text = std::string(src_.substr(o.pos, tokens_[i_ - 1].end - o.pos));
    return o;
  }

  Value number(const Token& t) {
    const std::string& s = t.text;
    std::string digits = s;
    digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
    bool is_float = digits.find_first_of(".eEpP") != std::string::npos && digits.rfind("0x", 0) != 0 &&
                    digits.rfind("-0x", 0) != 0;
    if (!is_float) {
      std::size_t used = 0;
      try {
        long long v = std::stoll(digits, &used, 0);
        if (used == digits.size()) return v;
      } catch (const std::exception&) {
      }
    } else {
      char* endp = nullptr;
      double v = std::strtod(digits.c_str(), &endp);
      if (endp && *endp == '\0') return v;
    }
    fail("bad number syntax: \"" + s + "\"", t.pos);
  }

  std::string_view src_;
  std::vector<Token> tokens_;
  std::size_t i_ = 0;
  std::size_t last_pos_ = 0;
};

// ---------------------------------------------------------------------------------------------------------
// Execution.

using Maybe = std::optional<Value>;  // nullopt: Go's invalid value (a missing map key), printed <no value>

std::string go_type(const Maybe& v) {
  if (!v || v->is_null()) return "<nil>";
  if (v->is_string()) return "string";
  if (v->is_boolean()) return "bool";
  if (v->is_number_integer()) return "int";
  if (v->is_number()) return "float64";
  if (v->is_array()) return "[]interface {}";
  return "map[string]interface {}";
}

bool truth(const Maybe& v) {
  if (!v || v->is_null()) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_number()) return v->get<double>() != 0;
  if (v->is_string()) return !v->get_ref<const std::string&>().empty();
  return !v->empty();
}

// The fewest significant digits that read back as `d`, in %g's form. Not std::to_chars: libstdc++'s
// floating-point to_chars needs libm, which the loader would then map at every exec of cppcker.
std::string shortest_float(double d) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

std::string format_float(double d) {
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (std::isnan(d)) return "NaN";
  if (d == std::floor(d) && std::fabs(d) < 1e21) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  return shortest_float(d);
}


std::size_t rune_count(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string json_text(const Maybe& v) {
  if (!v) return "null";
  return v->dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

class ExecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

double as_number(const Maybe& v, const std::string& function) {
  if (!v || !v->is_number()) throw ExecError("wrong type for value; expected int; got " + go_type(v) + " (in " + function + ")");
  return v->get<double>();
}

const std::string& as_string(const Maybe& v, const std::string& function) {
  if (!v || !v->is_string())
    throw ExecError("wrong type for value; expected string; got " + go_type(v) + " (in " + function + ")");
  return v->get_ref<const std::string&>();
}

// Go's fmt.Sprintf for the verbs a format string in a template uses.
std::string go_sprintf(const std::string& format, const std::vector<Maybe>& args) {
  std::string out;
  std::size_t next_arg = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    bool minus = false, plus = false, zero = false, space = false, sharp = false;
    for (;; ++i) {
      if (i >= format.size()) break;
      char f = format[i];
      if (f == '-') minus = true;
      else if (f == '+') plus = true;
      else if (f == '0') zero = true;
      else if (f == ' ') space = true;
      else if (f == '#') sharp = true;
      else break;
    }
    int width = -1, precision = -1;
    while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i])))
      width = std::max(width, 0) * 10 + (format[i++] - '0');
    if (i < format.size() && format[i] == '.') {
      precision = 0;
      ++i;
      while (i < format.size() && std::isdigit(static_cast<unsigned char>(format[i]))) precision = precision * 10 + (format[i++] - '0');
    }
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    char verb = format[i];
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (next_arg >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const Maybe& a = args[next_arg++];
    std::string cell;
    bool numeric = false;
    auto bad = [&] { return std::string("%!") + verb + "(" + go_type(a) + "=" + (a ? print_value(*a) : "<nil>") + ")"; };
    auto c_format = [&](char conv, double d) {
      std::string spec = "%";
      if (plus) spec += '+';
      if (space) spec += ' ';
      if (sharp) spec += '#';
      if (precision >= 0) spec += "." + std::to_string(precision);
      spec += conv;
      char buf[512];
      std::snprintf(buf, sizeof buf, spec.c_str(), d);
      return std::string(buf);
    };
    switch (verb) {
      case 'v':
        cell = a ? print_value(*a) : "<nil>";
        if (a && a->is_number() && plus && a->get<double>() >= 0) cell = "+" + cell;
        numeric = a && a->is_number();
        break;
      case 's':
        if (a && a->is_string()) {
          cell = a->get<std::string>();
          if (precision >= 0) {
            // precision counts runes
            std::size_t n = 0, b = 0;
            while (b < cell.size() && n < static_cast<std::size_t>(precision)) {
              ++b;
              while (b < cell.size() && (static_cast<unsigned char>(cell[b]) & 0xc0) == 0x80) ++b;
              ++n;
            }
            cell = cell.substr(0, b);
          }
        } else if (a && (a->is_array() || a->is_object())) {
          cell = print_value(*a);
        } else {
          cell = bad();
        }
        break;
      case 'q':
        if (a && a->is_string()) cell = go_quote(a->get<std::string>());
        else if (a && a->is_number_integer()) cell = "'" + std::string(1, static_cast<char>(a->get<long long>())) + "'";
        else cell = bad();
        break;
      case 'd':
        if (a && a->is_number() && a->get<double>() == std::floor(a->get<double>())) {
          long long v = a->is_number_integer() ? a->get<long long>() : static_cast<long long>(a->get<double>());
          cell = std::to_string(v);
          if (plus && v >= 0) cell = "+" + cell;
          numeric = true;
        } else {
          cell = bad();
        }
        break;
      case 'x': case 'X': case 'o': case 'b':
        if (a && a->is_number() && a->get<double>() == std::floor(a->get<double>())) {
          long long v = a->is_number_integer() ? a->get<long long>() : static_cast<long long>(a->get<double>());
          unsigned long long u = v < 0 ? -static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
          int base = verb == 'o' ? 8 : verb == 'b' ? 2 : 16;
          char buf[80];
          auto r = std::to_chars(buf, buf + sizeof buf, u, base);
          cell.assign(buf, r.ptr);
          if (verb == 'X') std::transform(cell.begin(), cell.end(), cell.begin(), ::toupper);
          if (v < 0) cell = "-" + cell;
          numeric = true;
        } else if (a && a->is_string() && (verb == 'x' || verb == 'X')) {
          for (unsigned char c : a->get_ref<const std::string&>()) {
            char buf[4];
            std::snprintf(buf, sizeof buf, verb == 'x' ? "%02x" : "%02X", c);
            cell += buf;
          }
        } else {
          cell = bad();
        }
        break;
      case 'c':
        if (a && a->is_number_integer()) cell = std::string(1, static_cast<char>(a->get<long long>()));
        else cell = bad();
        break;
      case 't':
        if (a && a->is_boolean()) cell = a->get<bool>() ? "true" : "false";
        else cell = bad();
        break;
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
        if (a && a->is_number()) {
          if ((verb == 'g' || verb == 'G') && precision < 0) {
            cell = format_float(a->get<double>());  // Go's %g: the shortest form that reads back
          } else {
            if (precision < 0 && (verb == 'f' || verb == 'F' || verb == 'e' || verb == 'E')) precision = 6;
            cell = c_format(verb == 'F' ? 'f' : verb, a->get<double>());
          }
          numeric = true;
        } else {
          cell = bad();
        }
        break;
      default:
        cell = bad();
    }
    std::size_t runes = rune_count(cell);
    if (width > 0 && runes < static_cast<std::size_t>(width)) {
      std::size_t pad = static_cast<std::size_t>(width) - runes;
      if (minus) cell += std::string(pad, ' ');
      else if (zero && numeric) {
        std::size_t sign = !cell.empty() && (cell[0] == '-' || cell[0] == '+') ? 1 : 0;
        cell.insert(sign, std::string(pad, '0'));
      } else {
        cell = std::string(pad, ' ') + cell;
      }
    }
    out += cell;
  }
  if (next_arg < args.size()) {
    out += "%!(EXTRA ";
    for (std::size_t k = next_arg; k < args.size(); ++k) {
      if (k > next_arg) out += ", ";
      out += go_type(args[k]) + "=" + (args[k] ? print_value(*args[k]) : "<nil>");
    }
    out += ")";
  }
  return out;
}

// Go's fmt.Sprint: a space between operands when neither is a string.
std::string go_sprint(const std::vector<Maybe>& args, bool line) {
  std::string out;
  for (std::size_t k = 0; k < args.size(); ++k) {
    bool is_string = args[k] && args[k]->is_string();
    if (k > 0 && (line || (!is_string && !(args[k - 1] && args[k - 1]->is_string())))) out += ' ';
    out += args[k] ? print_value(*args[k]) : "<nil>";
  }
  if (line) out += '\n';
  return out;
}

enum class Kind { Nil, Bool, Number, String, Other };
Kind basic_kind(const Maybe& v) {
  if (!v || v->is_null()) return Kind::Nil;
  if (v->is_boolean()) return Kind::Bool;
  if (v->is_number()) return Kind::Number;
  if (v->is_string()) return Kind::String;
  return Kind::Other;
}

bool go_eq(const Maybe& a, const Maybe& b) {
  Kind ka = basic_kind(a), kb = basic_kind(b);
  if (ka == Kind::Other || kb == Kind::Other) throw ExecError("non-comparable type " + go_type(ka == Kind::Other ? a : b));
  if (ka == Kind::Nil || kb == Kind::Nil) return ka == kb;
  if (ka != kb) throw ExecError("incompatible types for comparison");
  if (ka == Kind::Number) return a->get<double>() == b->get<double>();
  return *a == *b;
}

bool go_lt(const Maybe& a, const Maybe& b) {
  Kind ka = basic_kind(a), kb = basic_kind(b);
  if (ka != Kind::Number && ka != Kind::String) throw ExecError("invalid type for comparison");
  if (ka != kb) throw ExecError("incompatible types for comparison");
  if (ka == Kind::Number) return a->get<double>() < b->get<double>();
  return a->get_ref<const std::string&>() < b->get_ref<const std::string&>();
}

// strings.Title: each letter that follows a non-letter upper-cased.
std::string go_title(const std::string& s) {
  std::string out = s;
  bool previous_letter = false;
  for (char& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    bool letter = std::isalnum(u) || c == '_' || (u & 0x80);
    if (letter && !previous_letter) c = static_cast<char>(std::toupper(u));
    previous_letter = letter;
  }
  return out;
}

class Executor {
 public:
  Executor(std::string_view src, const Value& data, const Methods& methods, bool header)
      : src_(src), data_(data), methods_(methods), header_(header) {
    vars_.emplace_back("$", data);
  }

  std::string run(const std::vector<Node>& nodes) {
    try {
      walk(nodes, data_);
    } catch (const ExecError& e) {
      std::size_t line_start = src_.rfind('\n', at_pos_ == 0 ? 0 : at_pos_ - 1);
      std::size_t col = line_start == std::string_view::npos || at_pos_ == 0 ? at_pos_ : at_pos_ - line_start - 1;
      throw Error("template: :" + std::to_string(line_of(src_, at_pos_)) + ":" + std::to_string(col) +
                      ": executing \"\" at <" + at_text_ + ">: " + e.what(),
                  1);
    }
    return std::move(out_);
  }

 private:
  void walk(const std::vector<Node>& nodes, const Value& dot) {
    for (const auto& n : nodes) {
      switch (n.kind) {
        case Node::Text: out_ += n.text; break;
        case Node::Action: {
          Maybe v = pipeline(n.pipe, dot, false);
          if (n.pipe.declared.empty()) out_ += v ? print_value(*v) : "<no value>";
          break;
        }
        case Node::If:
        case Node::With: {
          std::size_t mark = vars_.size();
          Maybe v = pipeline(n.pipe, dot, false);
          if (truth(v)) walk(n.list, n.kind == Node::With ? *v : dot);
          else walk(n.else_list, dot);
          vars_.resize(mark);
          break;
        }
        case Node::Range: range(n, dot); break;
      }
    }
  }

  void range(const Node& n, const Value& dot) {
    std::size_t mark = vars_.size();
    Maybe v = pipeline(n.pipe, dot, true);
    auto body = [&](const Value& key, const Value& element) {
      std::size_t inner = vars_.size();
      if (n.pipe.declared.size() == 1) vars_.emplace_back(n.pipe.declared[0], element);
      if (n.pipe.declared.size() == 2) {
        vars_.emplace_back(n.pipe.declared[0], key);
        vars_.emplace_back(n.pipe.declared[1], element);
      }
      walk(n.list, element);
      vars_.resize(inner);
    };
    if (!v || v->is_null() || ((v->is_array() || v->is_object()) && v->empty())) {
      walk(n.else_list, dot);
    } else if (v->is_array()) {
      Value items = *v;  // the body may reassign variables that hold the array
      for (std::size_t k = 0; k < items.size(); ++k) body(Value(k), items[k]);
    } else if (v->is_object()) {
      Value items = *v;
      std::vector<std::string> keys;
      for (auto it = items.begin(); it != items.end(); ++it) keys.push_back(it.key());
      std::sort(keys.begin(), keys.end());  // Go visits a map's keys in sorted order
      for (const auto& k : keys) body(Value(k), items[k]);
    } else {
      throw ExecError("range can't iterate over " + print_value(*v));
    }
    vars_.resize(mark);
  }

  Maybe pipeline(const Pipeline& p, const Value& dot, bool range) {
    Maybe value;
    bool have = false;
    for (const auto& c : p.commands) {
      value = command(c, dot, have ? &value : nullptr);
      have = true;
    }
    if (!range && !p.declared.empty()) {
      Value stored = value ? *value : Value(nullptr);
      if (p.assign) variable(p.declared[0]) = stored;
      else vars_.emplace_back(p.declared[0], stored);
    }
    return value;
  }

  Value& variable(const std::string& name) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (it->first == name) return it->second;
    throw ExecError("undefined variable: " + name);
  }

  void at(std::size_t pos, const std::string& text) {
    at_pos_ = pos;
    at_text_ = text;
  }

  Maybe command(const Command& c, const Value& dot, const Maybe* final) {
    const Operand& first = c.args.front();
    std::vector<const Operand*> rest;
    for (std::size_t k = 1; k < c.args.size(); ++k) rest.push_back(&c.args[k]);
    switch (first.kind) {
      case Operand::Field:
        at(first.pos, first.text);
        return chain(dot, first.chain, rest, final, dot, first.text);
      case Operand::Variable:
        at(first.pos, first.text);
        if (!first.chain.empty()) return chain(variable(first.name), first.chain, rest, final, dot, first.text);
        break;
      case Operand::Function:
        return call(first.name, rest, final, dot, c.pos, c.text);
      case Operand::Pipe:
        if (!first.chain.empty()) {
          Maybe receiver = pipeline(*first.pipe, dot, false);
          at(first.pos, first.text);
          return chain(receiver, first.chain, rest, final, dot, first.text);
        }
        break;
      default: break;
    }
    if (!rest.empty() || final) {
      at(first.pos, first.text);
      throw ExecError("can't give argument to non-function " + first.text);
    }
    return argument(first, dot);
  }

  Maybe argument(const Operand& o, const Value& dot) {
    switch (o.kind) {
      case Operand::Dot: return dot;
      case Operand::Literal: return o.literal;
      case Operand::Nil: return Value(nullptr);
      case Operand::Field: at(o.pos, o.text); return chain(dot, o.chain, {}, nullptr, dot, o.text);
      case Operand::Variable:
        if (o.chain.empty()) return variable(o.name);
        at(o.pos, o.text);
        return chain(variable(o.name), o.chain, {}, nullptr, dot, o.text);
      case Operand::Function: return call(o.name, {}, nullptr, dot, o.pos, o.text);
      case Operand::Pipe: {
        Maybe v = pipeline(*o.pipe, dot, false);
        if (o.chain.empty()) return v;
        at(o.pos, o.text);
        return chain(v, o.chain, {}, nullptr, dot, o.text);
      }
    }
    return std::nullopt;
  }

  Maybe chain(Maybe receiver, const std::vector<std::string>& names, const std::vector<const Operand*>& args,
              const Maybe* final, const Value& dot, const std::string& text) {
    for (std::size_t k = 0; k < names.size(); ++k) {
      bool last = k + 1 == names.size();
      bool has_args = last && (!args.empty() || final);
      const std::string& name = names[k];
      if (!receiver || receiver->is_null()) throw ExecError("nil pointer evaluating interface {}." + name);
      if (!receiver->is_object()) throw ExecError("can't evaluate field " + name + " in type " + go_type(receiver));
      auto it = receiver->find(name);
      if (it != receiver->end()) {
        if (has_args) throw ExecError(name + " is not a method but has arguments");
        receiver = Maybe(*it);
        continue;
      }
      auto method = methods_.find(name);
      if (method != methods_.end() && *receiver == data_) {
        std::vector<Value> values;
        if (last) {
          for (const Operand* a : args) {
            Maybe v = argument(*a, dot);
            values.push_back(v ? *v : Value(nullptr));
          }
          if (final) values.push_back(*final ? **final : Value(nullptr));
        }
        at_text_ = text;
        receiver = method->second(values);
        continue;
      }
      if (has_args) throw ExecError(name + " is not a method but has arguments");
      receiver = std::nullopt;
    }
    return receiver;
  }

  Maybe call(const std::string& name, const std::vector<const Operand*>& operands, const Maybe* final, const Value& dot,
             std::size_t pos, const std::string& text) {
    std::vector<Maybe> a;
    for (const Operand* o : operands) a.push_back(argument(*o, dot));
    if (final) a.push_back(*final);
    at(pos, text);  // errors of the call itself name the whole command, as Go does
    auto want = [&](std::size_t n) {
      if (a.size() != n)
        throw ExecError("wrong number of args for " + name + ": want " + std::to_string(n) + " got " + std::to_string(a.size()));
    };
    auto at_least = [&](std::size_t n) {
      if (a.size() < n)
        throw ExecError("wrong number of args for " + name + ": want at least " + std::to_string(n) + " got " +
                        std::to_string(a.size()));
    };
    try {
      // Docker's header pass: its string functions return the header unchanged.
      if (header_ && (name == "json" || name == "split" || name == "join" || name == "title" || name == "lower" ||
                      name == "upper" || name == "truncate")) {
        at_least(1);
        return a[0] ? *a[0] : Value("");
      }
      if (name == "and" || name == "or") {
        at_least(1);
        for (std::size_t k = 0; k + 1 < a.size(); ++k)
          if (truth(a[k]) == (name == "or")) return a[k];
        return a.back();
      }
      if (name == "not") {
        want(1);
        return Value(!truth(a[0]));
      }
      if (name == "len") {
        want(1);
        if (a[0] && (a[0]->is_array() || a[0]->is_object())) return Value(a[0]->size());
        if (a[0] && a[0]->is_string()) return Value(a[0]->get_ref<const std::string&>().size());
        throw ExecError("len of type " + go_type(a[0]));
      }
      if (name == "index") {
        at_least(1);
        Maybe item = a[0];
        for (std::size_t k = 1; k < a.size(); ++k) {
          if (!item || item->is_null()) throw ExecError("index of untyped nil");
          if (item->is_array() || item->is_string()) {
            if (!a[k] || !a[k]->is_number_integer()) throw ExecError("cannot index slice/array with type " + go_type(a[k]));
            long long i = a[k]->get<long long>();
            long long size = item->is_string() ? static_cast<long long>(item->get_ref<const std::string&>().size())
                                               : static_cast<long long>(item->size());
            if (i < 0 || i >= size) throw ExecError("index out of range: " + std::to_string(i));
            if (item->is_string()) item = Value(static_cast<unsigned char>(item->get_ref<const std::string&>()[i]));
            else item = (*item)[static_cast<std::size_t>(i)];
          } else if (item->is_object()) {
            if (!a[k] || !a[k]->is_string()) throw ExecError("value has type " + go_type(a[k]) + "; should be string");
            auto it = item->find(a[k]->get<std::string>());
            if (it != item->end()) {
              item = *it;
            } else {
              // Go returns the map's zero element: "" for Docker's string maps (Labels, Options), nil otherwise.
              bool strings = std::all_of(item->begin(), item->end(), [](const Value& e) { return e.is_string(); });
              item = strings ? Value("") : Value(nullptr);
            }
          } else {
            throw ExecError("can't index item of type " + go_type(item));
          }
        }
        return item;
      }
      if (name == "print") return Value(go_sprint(a, false));
      if (name == "println") return Value(go_sprint(a, true));
      if (name == "printf") {
        at_least(1);
        return Value(go_sprintf(as_string(a[0], name), std::vector<Maybe>(a.begin() + 1, a.end())));
      }
      if (name == "eq") {
        at_least(2);
        for (std::size_t k = 1; k < a.size(); ++k)
          if (go_eq(a[0], a[k])) return Value(true);
        return Value(false);
      }
      if (name == "ne") {
        want(2);
        return Value(!go_eq(a[0], a[1]));
      }
      if (name == "lt" || name == "le" || name == "gt" || name == "ge") {
        want(2);
        bool less = go_lt(a[0], a[1]);
        bool equal = !less && go_eq(a[0], a[1]);
        if (name == "lt") return Value(less);
        if (name == "le") return Value(less || equal);
        if (name == "gt") return Value(!less && !equal);
        return Value(!less);
      }
      if (name == "json") {
        want(1);
        return Value(json_text(a[0]));
      }
      if (name == "join") {
        want(2);
        if (!a[0] || !a[0]->is_array()) throw ExecError("wrong type for value; expected []string; got " + go_type(a[0]));
        const std::string& sep = as_string(a[1], name);
        std::string out;
        for (std::size_t k = 0; k < a[0]->size(); ++k) out += (k ? sep : "") + print_value((*a[0])[k]);
        return Value(out);
      }
      if (name == "split") {
        want(2);
        const std::string& s = as_string(a[0], name);
        const std::string& sep = as_string(a[1], name);
        Value parts = Value::array();
        if (sep.empty()) {
          for (std::size_t b = 0; b < s.size();) {
            std::size_t e = b + 1;
            while (e < s.size() && (static_cast<unsigned char>(s[e]) & 0xc0) == 0x80) ++e;
            parts.push_back(s.substr(b, e - b));
            b = e;
          }
          return parts;
        }
        std::size_t b = 0;
        for (std::size_t e; (e = s.find(sep, b)) != std::string::npos; b = e + sep.size()) parts.push_back(s.substr(b, e - b));
        parts.push_back(s.substr(b));
        return parts;
      }
      if (name == "lower" || name == "upper") {
        want(1);
        std::string s = as_string(a[0], name);
        for (char& ch : s) ch = static_cast<char>(name == "lower" ? std::tolower(static_cast<unsigned char>(ch))
                                                                 : std::toupper(static_cast<unsigned char>(ch)));
        return Value(s);
      }
      if (name == "title") {
        want(1);
        return Value(go_title(as_string(a[0], name)));
      }
      if (name == "pad") {
        want(3);
        const std::string& s = as_string(a[0], name);
        if (s.empty()) return Value(s);
        auto before = static_cast<std::size_t>(std::max(0.0, as_number(a[1], name)));
        auto after = static_cast<std::size_t>(std::max(0.0, as_number(a[2], name)));
        return Value(std::string(before, ' ') + s + std::string(after, ' '));
      }
      if (name == "truncate") {
        want(2);
        const std::string& s = as_string(a[0], name);
        auto n = static_cast<std::size_t>(std::max(0.0, as_number(a[1], name)));
        return Value(s.size() < n ? s : s.substr(0, n));
      }
    } catch (const ExecError& e) {
      std::string m = e.what();
      if (m.rfind("wrong number of args", 0) == 0) throw;
      throw ExecError("error calling " + name + ": " + m);
    }
    throw ExecError("function \"" + name + "\" not defined");
  }

  std::string_view src_;
  const Value& data_;
  const Methods& methods_;
  bool header_;
  std::vector<std::pair<std::string, Value>> vars_;
  std::string out_;
  std::size_t at_pos_ = 0;
  std::string at_text_;
};

}  // namespace

// The header holds a Node whose first child list is the template; the source is kept for error positions.
struct TemplateData : Node {
  std::string source;
};

Template Template::parse(std::string_view text) {
  auto data = std::make_shared<TemplateData>();
  data->source = std::string(text);
  data->list = Parser(data->source).parse_top();
  Template t;
  t.root_ = data;
  return t;
}

std::string Template::execute(const Value& data, const Methods& methods) const {
  const auto& root = static_cast<const TemplateData&>(*root_);
  return Executor(root.source, data, methods, false).run(root.list);
}

std::string Template::execute_header(const Value& data, const Methods& methods) const {
  const auto& root = static_cast<const TemplateData&>(*root_);
  return Executor(root.source, data, methods, true).run(root.list);
}

std::string print_value(const Value& v) {
  switch (v.type()) {
    case Value::value_t::null: return "<nil>";
    case Value::value_t::string: return v.get<std::string>();
    case Value::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case Value::value_t::number_integer: return std::to_string(v.get<std::int64_t>());
    case Value::value_t::number_unsigned: return std::to_string(v.get<std::uint64_t>());
    case Value::value_t::number_float: return format_float(v.get<double>());
    case Value::value_t::array: {
      std::string out = "[";
      for (std::size_t k = 0; k < v.size(); ++k) out += (k ? " " : "") + print_value(v[k]);
      return out + "]";
    }
    case Value::value_t::object: {
      std::vector<std::string> keys;
      for (auto it = v.begin(); it != v.end(); ++it) keys.push_back(it.key());
      std::sort(keys.begin(), keys.end());
      std::string out = "map[";
      for (std::size_t k = 0; k < keys.size(); ++k) out += (k ? " " : "") + keys[k] + ":" + print_value(v[keys[k]]);
      return out + "]";
    }
    default: return "";
  }
}

}  // namespace cppcker::format
