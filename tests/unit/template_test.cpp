// Go text/template as Docker's --format and inspect -f use it: each case a template, the JSON it runs on,
// and what Docker prints (cases from docs.docker.com/config/formatting and the ps/inspect reference).
#include <gtest/gtest.h>

#include "cppcker/format/template.hpp"
#include "cppcker/util/error.hpp"

using cppcker::format::Methods;
using cppcker::format::Template;
using cppcker::format::Value;

namespace {

struct Case {
  const char* name;
  const char* tmpl;
  const char* input;
  const char* expected;
};

const char* kContainer = R"({
  "Id": "4f2d7c3c9a6a", "Name": "/web", "Args": ["-c", "echo hi"], "Path": "sh",
  "State": {"Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0, "OOMKilled": false},
  "Mounts": [{"Type": "volume", "Name": "data", "Source": "/var/lib/v/data/_data", "Destination": "/data", "RW": true},
             {"Type": "bind", "Source": "/host", "Destination": "/mnt", "RW": false}],
  "Config": {"Image": "ubuntu:latest", "Labels": {"com.example.vendor": "ACME", "version": "1.0"}, "Env": null,
             "Cmd": ["sh", "-c", "echo hi"], "StopTimeout": 10},
  "HostConfig": {"Memory": 104857600, "NanoCpus": 1500000000, "Dns": [], "RestartPolicy": {"Name": "always", "MaximumRetryCount": 0}},
  "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2", "Gateway": "172.17.0.1"},
                                   "backend": {"IPAddress": "10.0.0.5", "Gateway": "10.0.0.1"}}},
  "Ratio": 0.25, "Empty": "", "Zero": 0, "Nothing": null, "Flag": false
})";

const Case kCases[] = {
    // Field paths, missing fields, Go's printing of each JSON type.
    {"field", "{{.Name}}", kContainer, "/web"},
    {"nested field", "{{.State.Pid}}", kContainer, "4242"},
    {"bool field", "{{.State.Running}}", kContainer, "true"},
    {"large integer", "{{.HostConfig.Memory}}", kContainer, "104857600"},
    {"float", "{{.Ratio}}", kContainer, "0.25"},
    {"null", "{{.Nothing}}", kContainer, "<nil>"},
    {"null array", "{{.Config.Env}}", kContainer, "<nil>"},
    {"missing field", "{{.Nope}}", kContainer, "<no value>"},
    {"missing nested field", "{{.State.Nope}}", kContainer, "<no value>"},
    {"array", "{{.Args}}", kContainer, "[-c echo hi]"},
    {"empty array", "{{.HostConfig.Dns}}", kContainer, "[]"},
    {"map sorted keys", "{{.Config.Labels}}", kContainer, "map[com.example.vendor:ACME version:1.0]"},
    {"nested map", "{{.HostConfig.RestartPolicy}}", kContainer, "map[MaximumRetryCount:0 Name:always]"},
    {"text around", "pid={{.State.Pid}} name={{.Name}}\n", kContainer, "pid=4242 name=/web\n"},
    {"no actions", "plain text", kContainer, "plain text"},
    {"dot", "{{.}}", R"("x")", "x"},
    {"dollar", "{{range .Args}}{{$.Name}}{{end}}", kContainer, "/web/web"},
    // Docker's functions (docs.docker.com/config/formatting).
    {"join", "{{join .Args \" , \"}}", kContainer, "-c , echo hi"},
    {"json object", "{{json .HostConfig.RestartPolicy}}", kContainer, R"({"Name":"always","MaximumRetryCount":0})"},
    {"json array", "{{json .Mounts}}", kContainer,
     R"([{"Type":"volume","Name":"data","Source":"/var/lib/v/data/_data","Destination":"/data","RW":true},{"Type":"bind","Source":"/host","Destination":"/mnt","RW":false}])"},
    {"json string no html escaping", "{{json .}}", R"({"a":"<b>&"})", R"({"a":"<b>&"})"},
    {"json missing", "{{json .Nope}}", kContainer, "null"},
    {"lower", "{{lower .State.Status}}", R"({"State":{"Status":"RUNNING"}})", "running"},
    {"split", "{{split .Config.Image \":\"}}", kContainer, "[ubuntu latest]"},
    {"split index", "{{index (split .Config.Image \":\") 1}}", kContainer, "latest"},
    {"title", "{{title .Name}}", R"({"Name":"my container-name"})", "My Container-Name"},
    {"upper", "{{upper .State.Status}}", kContainer, "RUNNING"},
    {"println", "{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}", kContainer, "10.0.0.5\n172.17.0.2\n"},
    {"pad", "{{pad .Name 2 1}}|", kContainer, "  /web |"},
    {"truncate", "{{truncate .Id 4}}", kContainer, "4f2d"},
    // ps/inspect examples.
    {"index label", "{{index .Config.Labels \"com.example.vendor\"}}", kContainer, "ACME"},
    {"index missing label", "[{{index .Config.Labels \"nope\"}}]", kContainer, "[]"},
    {"index array", "{{index .Args 1}}", kContainer, "echo hi"},
    {"index nested", "{{(index .Mounts 1).Destination}}", kContainer, "/mnt"},
    {"range mounts", "{{range .Mounts}}{{.Source}} {{end}}", kContainer, "/var/lib/v/data/_data /host "},
    {"range key value", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}", kContainer,
     "com.example.vendor=ACME version=1.0 "},
    {"range network names", "{{range $net, $conf := .NetworkSettings.Networks}}{{$net}}:{{$conf.IPAddress}};{{end}}",
     kContainer, "backend:10.0.0.5;bridge:172.17.0.2;"},
    {"range index element", "{{range $i, $a := .Args}}{{$i}}{{$a}},{{end}}", kContainer, "0-c,1echo hi,"},
    {"range one variable", "{{range $m := .Mounts}}{{$m.Type}}{{end}}", kContainer, "volumebind"},
    {"range else", "{{range .HostConfig.Dns}}x{{else}}none{{end}}", kContainer, "none"},
    {"range null", "{{range .Config.Env}}x{{else}}none{{end}}", kContainer, "none"},
    {"network ip", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", R"({"NetworkSettings":{"Networks":{"bridge":{"IPAddress":"172.17.0.2"}}}})",
     "172.17.0.2"},
    {"json config", "{{json .Config.Labels}}", kContainer, R"({"com.example.vendor":"ACME","version":"1.0"})"},
    {"len", "{{len .Mounts}} {{len .Name}} {{len .Config.Labels}}", kContainer, "2 4 2"},
    // Conditions, Go truthiness, comparisons.
    {"if true", "{{if .State.Running}}up{{end}}", kContainer, "up"},
    {"if else", "{{if .Flag}}yes{{else}}no{{end}}", kContainer, "no"},
    {"else if", "{{if eq .State.Status \"exited\"}}E{{else if eq .State.Status \"running\"}}R{{else}}?{{end}}", kContainer, "R"},
    {"else if fallthrough", "{{if .Flag}}a{{else if .Zero}}b{{else}}c{{end}}", kContainer, "c"},
    {"empty string false", "{{if .Empty}}a{{else}}b{{end}}", kContainer, "b"},
    {"zero false", "{{if .Zero}}a{{else}}b{{end}}", kContainer, "b"},
    {"empty array false", "{{if .HostConfig.Dns}}a{{else}}b{{end}}", kContainer, "b"},
    {"missing false", "{{if .Nope}}a{{else}}b{{end}}", kContainer, "b"},
    {"non-empty map true", "{{if .Config.Labels}}a{{end}}", kContainer, "a"},
    {"with", "{{with .State}}{{.Status}}/{{.Pid}}{{end}}", kContainer, "running/4242"},
    {"with else", "{{with .Empty}}x{{else}}empty{{end}}", kContainer, "empty"},
    {"eq numbers", "{{eq .State.Pid 4242}}", kContainer, "true"},
    {"eq several", "{{eq .State.Status \"exited\" \"running\"}}", kContainer, "true"},
    {"ne", "{{ne .Name \"/web\"}}", kContainer, "false"},
    {"lt le gt ge", "{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge \"b\" \"a\"}}", "{}", "true true false true"},
    {"and or not", "{{and .State.Running .Flag}} {{or .Empty \"dflt\"}} {{not .Flag}}", kContainer, "false dflt true"},
    {"and returns value", "{{and 1 \"x\"}}", "{}", "x"},
    // printf and print.
    {"printf", "{{printf \"%s has pid %d\" .Name .State.Pid}}", kContainer, "/web has pid 4242"},
    {"printf width", "{{printf \"%-10s|%5d|%05d\" .State.Status .Zero .State.Pid}}", kContainer, "running   |    0|04242"},
    {"printf quote", "{{printf \"%q\" .Name}}", kContainer, "\"/web\""},
    {"printf v", "{{printf \"%v %v %v\" .Args .State.Running .Nothing}}", kContainer, "[-c echo hi] true <nil>"},
    {"printf float", "{{printf \"%.2f\" .Ratio}}", kContainer, "0.25"},
    {"printf percent", "{{printf \"100%%\"}}", "{}", "100%"},
    {"printf missing", "{{printf \"%s %s\" .Name}}", kContainer, "/web %!s(MISSING)"},
    {"print spacing", "{{print \"a\" \"b\" 1 2}}", "{}", "ab1 2"},
    {"println spacing", "{{println \"a\" \"b\"}}", "{}", "a b\n"},
    // Pipelines, variables, literals, whitespace trimming, comments.
    {"pipeline", "{{.State.Status | upper}}", kContainer, "RUNNING"},
    {"pipeline to printf", "{{.Name | printf \"%s!\"}}", kContainer, "/web!"},
    {"pipeline chain", "{{.Config.Image | upper | lower}}", kContainer, "ubuntu:latest"},
    {"parenthesized", "{{upper (index .Config.Labels \"version\")}}", kContainer, "1.0"},
    {"variable", "{{$n := .Name}}{{$n}}{{$n}}", kContainer, "/web/web"},
    {"variable assign", "{{$n := 1}}{{if true}}{{$n = 2}}{{end}}{{$n}}", "{}", "2"},
    {"variable scope", "{{with .State}}{{$p := .Pid}}{{$p}}{{end}}", kContainer, "4242"},
    {"literals", "{{\"str\"}} {{42}} {{-7}} {{1.5}} {{true}} {{`raw\\n`}}", "{}", "str 42 -7 1.5 true raw\\n"},
    {"string escapes", "{{\"a\\tb\"}}", "{}", "a\tb"},
    {"trim both", "a  {{- .Name -}}  \n b", kContainer, "a/webb"},
    {"trim left only", "x \n{{- \"y\"}} z", "{}", "xy z"},
    {"comment", "a{{/* note */}}b", "{}", "ab"},
    {"trimmed comment", "a {{- /* note */ -}} b", "{}", "ab"},
    {"minus number not trim", "{{-3}}", "{}", "-3"},
    {"newline in table cells", "{{.Name}}\t{{.State.Pid}}", kContainer, "/web\t4242"},
};

class TemplateCases : public ::testing::TestWithParam<Case> {};

TEST_P(TemplateCases, PrintsAsDocker) {
  const Case& c = GetParam();
  Template t = Template::parse(c.tmpl);
  EXPECT_EQ(t.execute(Value::parse(c.input)), c.expected) << "template: " << c.tmpl;
}

INSTANTIATE_TEST_SUITE_P(Docker, TemplateCases, ::testing::ValuesIn(kCases), [](const auto& info) {
  std::string n = info.param.name;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

struct ErrorCase {
  const char* tmpl;
  const char* input;
  const char* message;  // the whole message Docker's template package gives
};

const ErrorCase kParseErrors[] = {
    {"{{.Name}", "{}", "template: :1: unexpected \"}\" in operand"},
    {"{{.Name", "{}", "template: :1: unclosed action"},
    {"{{if .A}}x", "{}", "template: :1: unexpected EOF"},
    {"x{{end}}", "{}", "template: :1: unexpected {{end}}"},
    {"{{else}}", "{}", "template: :1: unexpected {{else}}"},
    {"{{nosuch .A}}", "{}", "template: :1: function \"nosuch\" not defined"},
    {"{{}}", "{}", "template: :1: missing value for command"},
    {"line1\n{{if}}{{end}}", "{}", "template: :2: missing value for if"},
    {"{{\"abc}}", "{}", "template: :1: unterminated quoted string"},
    {"{{.A | }}", "{}", "template: :1: missing command after |"},
};

const ErrorCase kExecErrors[] = {
    {"{{.A.B}}", "{}", "template: :1:2: executing \"\" at <.A.B>: nil pointer evaluating interface {}.B"},
    {"{{.Name.X}}", R"({"Name":"n"})", "template: :1:2: executing \"\" at <.Name.X>: can't evaluate field X in type string"},
    {"{{index .A 5}}", R"({"A":[1]})", "template: :1:2: executing \"\" at <index .A 5>: error calling index: index out of range: 5"},
    {"{{.A 1}}", R"({"A":1})", "template: :1:2: executing \"\" at <.A>: A is not a method but has arguments"},
    {"{{len .A}}", R"({"A":3})", "template: :1:2: executing \"\" at <len .A>: error calling len: len of type int"},
    {"{{eq .A \"x\"}}", R"({"A":3})",
     "template: :1:2: executing \"\" at <eq .A \"x\">: error calling eq: incompatible types for comparison"},
    {"{{range .A}}{{end}}", R"({"A":"str"})", "template: :1:8: executing \"\" at <.A>: range can't iterate over str"},
    {"{{upper}}", "{}", "template: :1:2: executing \"\" at <upper>: wrong number of args for upper: want 1 got 0"},
    {"{{$x}}", "{}", "template: :1:2: executing \"\" at <$x>: undefined variable: $x"},
};

TEST(Template, ParseErrorsAsGo) {
  for (const auto& c : kParseErrors) {
    try {
      Template::parse(c.tmpl);
      ADD_FAILURE() << "parsed: " << c.tmpl;
    } catch (const cppcker::Error& e) {
      EXPECT_EQ(std::string(e.what()), c.message) << c.tmpl;
      EXPECT_EQ(e.exit_code(), 1);
    }
  }
}

TEST(Template, ExecutionErrorsAsGo) {
  for (const auto& c : kExecErrors) {
    Template t = Template::parse(c.tmpl);
    try {
      std::string out = t.execute(Value::parse(c.input));
      ADD_FAILURE() << c.tmpl << " printed: " << out;
    } catch (const cppcker::Error& e) {
      EXPECT_EQ(std::string(e.what()), c.message) << c.tmpl;
      EXPECT_EQ(e.exit_code(), 1);
    }
  }
}

TEST(Template, MethodsOfTheRow) {
  // Docker's ps row: {{.Label "k"}} is a method; .Labels the joined text.
  Value row = {{"Names", "web"}, {"Labels", "a=1,b=2"}};
  std::map<std::string, std::string> labels = {{"a", "1"}, {"b", "2"}};
  Methods methods = {{"Label", [&](const std::vector<Value>& args) {
                        if (args.size() != 1 || !args[0].is_string()) throw cppcker::Error("Label takes one key");
                        auto it = labels.find(args[0].get<std::string>());
                        return Value(it == labels.end() ? "" : it->second);
                      }}};
  EXPECT_EQ(Template::parse("{{.Names}} {{.Label \"a\"}} [{{.Label \"zz\"}}] {{.Labels}}").execute(row, methods),
            "web 1 [] a=1,b=2");
  EXPECT_EQ(Template::parse("{{\"b\" | .Label}}").execute(row, methods), "2");
  // A method of the row only: a nested object has no Label.
  EXPECT_EQ(Template::parse("{{json .}}").execute(row, methods), R"({"Names":"web","Labels":"a=1,b=2"})");
}

TEST(Template, HeaderPassKeepsNames) {
  Value header = {{"Names", "NAMES"}, {"Status", "STATUS"}};
  Template t = Template::parse("{{upper .Names}}\t{{json .Status}}\t{{truncate .Names 2}}");
  EXPECT_EQ(t.execute_header(header), "NAMES\tSTATUS\tNAMES");
  EXPECT_EQ(t.execute(header), "NAMES\t\"STATUS\"\tNA");
}

TEST(Template, ReusableAcrossRows) {
  Template t = Template::parse("{{$n := .N}}{{$n}}");
  EXPECT_EQ(t.execute(Value{{"N", 1}}), "1");
  EXPECT_EQ(t.execute(Value{{"N", 2}}), "2");
}

}  // namespace
