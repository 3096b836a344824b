// oqctl: orderqueryd from the command line, for humans (readable text) and scripts (--json,
// and an exit code per gRPC status).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "client/orderquery_client.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"

namespace {

constexpr int kUsageExit = 64;  // EX_USAGE; 1..16 are gRPC status codes

constexpr char kGlobalHelp[] =
    "oqctl: call orderqueryd.\n"
    "\n"
    "Usage: oqctl [global flags] COMMAND [flags]\n"
    "Commands:\n"
    "  recharge --appid A --token-file F --order-no N [--force-refresh]   QueryRechargeOrder "
    "(seed 000)\n"
    "  vehicle  --out-trade-no N --sub-mchid M [--force-refresh]     GetVehicleTransaction (seed "
    "002)\n"
    "  trade    --id X [--merchant NAME] [--force-refresh]            GetTradeOrder (seed 001)\n"
    "  health   [--service NAME]                                      grpc.health.v1 Check\n"
    "Global flags:\n"
    "  --target HOST:PORT   server (default 127.0.0.1:50051, or $OQCTL_TARGET)\n"
    "  --tls                use TLS; --ca FILE trusts this CA; --cert/--key FILE for mTLS\n"
    "  --deadline DURATION  per call, retries included (default 5s; e.g. 500ms, 2s)\n"
    "  --api-key-file FILE  the caller's API key (metadata x-api-key; vehicle and trade need\n"
    "                       one, --force-refresh an operator's); else $OQCTL_API_KEY, else\n"
    "                       --api-key KEY (visible in the process list: avoid it)\n"
    "  --json               print the response as proto JSON\n"
    "  --help               this text; `oqctl COMMAND --help` for one command\n"
    "Exit codes: 0 OK; 1-16 the gRPC status code of a failed call (e.g. 14 UNAVAILABLE,\n"
    "16 UNAUTHENTICATED); 64 bad usage.\n";

const std::map<std::string, std::string>& CommandHelp() {
  static const auto* help = new std::map<std::string, std::string>{
      {"recharge",
       "oqctl recharge --appid A --token-file F --order-no N [--force-refresh]\n"
       "  Asks for a recharge order's state; credits the balance once when paid.\n"
       "  The user token comes from --token-file F (its first line), else $OQCTL_TOKEN, else\n"
       "  --token T (visible to every user of the machine in the process list: avoid it).\n"
       "  The answer code is the seed's: 0 paid, 2041 refund, 2042 not paid, 2043 closed,\n"
       "  2044 revoked, 2045 user paying, 2046 pay error, 2047 no such order, 2048 unknown.\n"},
      {"vehicle",
       "oqctl vehicle --out-trade-no N --sub-mchid M [--force-refresh]\n"
       "  A WeChat Pay parking transaction (partner mode), every field of the reply.\n"},
      {"trade",
       "oqctl trade --id X [--merchant NAME] [--force-refresh]\n"
       "  A merchant trade order (aggregated-payment API), with its goods.\n"},
      {"health",
       "oqctl health [--service NAME]\n"
       "  SERVING while the server and its database are up; exit 0 only when SERVING.\n"},
  };
  return *help;
}

struct Args {
  std::string command;
  std::map<std::string, std::string> values;
  std::set<std::string> switches;
};

const std::set<std::string> kSwitches = {"--tls", "--json", "--force-refresh", "--help", "-h"};

bool Parse(int argc, char** argv, Args* out, std::string* error) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 && a != "-h") {
      if (!out->command.empty()) {
        *error = "unexpected argument " + a;
        return false;
      }
      out->command = a;
      continue;
    }
    if (kSwitches.count(a)) {
      out->switches.insert(a == "-h" ? "--help" : a);
      continue;
    }
    std::string value;
    size_t eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      *error = a + " needs a value";
      return false;
    }
    out->values[a] = value;
  }
  return true;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "oqctl: %s (see oqctl --help)\n", message.c_str());
  return kUsageExit;
}

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "oqctl: %s: %s\n", absl::StatusCodeToString(s.code()).c_str(),
               std::string(s.message()).c_str());
  return static_cast<int>(s.code());
}

void Print(const google::protobuf::Message& m, bool json) {
  std::string out;
  if (json) {
    google::protobuf::util::JsonPrintOptions opts;
    opts.always_print_primitive_fields = true;
    opts.add_whitespace = true;
    (void)google::protobuf::util::MessageToJsonString(m, &out, opts);
  } else {
    google::protobuf::TextFormat::Printer p;
    p.SetUseUtf8StringEscaping(true);
    p.PrintToString(m, &out);
  }
  std::cout << out;
  if (!out.empty() && out.back() != '\n') std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  std::string error;
  if (!Parse(argc, argv, &args, &error)) return Usage(error);
  if (args.command.empty()) {
    if (args.switches.count("--help")) {
      std::cout << kGlobalHelp;
      return 0;
    }
    return Usage("a command is required");
  }
  auto help = CommandHelp().find(args.command);
  if (help == CommandHelp().end()) return Usage("unknown command " + args.command);
  if (args.switches.count("--help")) {
    std::cout << help->second;
    return 0;
  }
  auto need = [&](const char* flag) -> const std::string* {
    auto it = args.values.find(flag);
    return it == args.values.end() ? nullptr : &it->second;
  };

  orderquery::client::ClientOptions opts;
  if (const char* t = std::getenv("OQCTL_TARGET")) opts.target = t;
  if (auto* t = need("--target")) opts.target = *t;
  opts.tls = args.switches.count("--tls") > 0;
  if (auto* v = need("--ca")) opts.ca_file = *v, opts.tls = true;
  if (auto* v = need("--cert")) opts.cert_file = *v;
  if (auto* v = need("--key")) opts.key_file = *v;
  if (auto* v = need("--deadline")) {
    absl::Duration d;
    if (!absl::ParseDuration(*v, &d) || d <= absl::ZeroDuration()) {
      return Usage("--deadline takes a duration like 500ms or 2s");
    }
    opts.deadline = d;
  }
  if (const std::string* file = need("--api-key-file")) {
    std::ifstream in(*file);
    if (!in.good()) return Usage("--api-key-file: cannot read " + *file);
    std::getline(in, opts.api_key);
    if (!opts.api_key.empty() && opts.api_key.back() == '\r') opts.api_key.pop_back();
  } else if (const char* env = std::getenv("OQCTL_API_KEY"); env && *env) {
    opts.api_key = env;
  } else if (const std::string* k = need("--api-key")) {
    opts.api_key = *k;
  }
  const bool json = args.switches.count("--json") > 0;
  const bool force = args.switches.count("--force-refresh") > 0;
  auto client = orderquery::client::OrderQueryClient::Create(opts);
  if (!client.ok()) return Usage(std::string(client.status().message()));

  if (args.command == "recharge") {
    const std::string *appid = need("--appid"), *no = need("--order-no");
    std::string token;
    if (const std::string* file = need("--token-file")) {
      std::ifstream in(*file);
      if (!in.good()) return Usage("--token-file: cannot read " + *file);
      std::getline(in, token);
      if (!token.empty() && token.back() == '\r') token.pop_back();
    } else if (const char* env = std::getenv("OQCTL_TOKEN"); env && *env) {
      token = env;
    } else if (const std::string* t = need("--token")) {
      token = *t;
    }
    if (!appid || token.empty() || !no) {
      return Usage(
          "recharge needs --appid, a token (--token-file, $OQCTL_TOKEN or --token) and "
          "--order-no");
    }
    auto r = (*client)->QueryRechargeOrder(*appid, token, *no, force);
    if (!r.ok()) return Fail(r.status());
    if (!json) {
      // Text format drops a zero code (proto3 default); the seed's 0 matters, so say it.
      std::cout << "code: " << static_cast<int>(r->code()) << " ("
                << orderquery::v1::RechargeResultCode_Name(r->code()) << ")\n";
      r->clear_code();
    }
    Print(*r, json);
    return 0;
  }
  if (args.command == "vehicle") {
    const std::string *no = need("--out-trade-no"), *sub = need("--sub-mchid");
    if (!no || !sub) return Usage("vehicle needs --out-trade-no and --sub-mchid");
    auto r = (*client)->GetVehicleTransaction(*no, *sub, force);
    if (!r.ok()) return Fail(r.status());
    Print(*r, json);
    return 0;
  }
  if (args.command == "trade") {
    const std::string* id = need("--id");
    if (!id) return Usage("trade needs --id");
    const std::string* merchant = need("--merchant");
    auto r = (*client)->GetTradeOrder(*id, merchant ? *merchant : "", force);
    if (!r.ok()) return Fail(r.status());
    if (!json) std::cout << "code: " << r->code() << "\n";
    Print(*r, json);
    return 0;
  }
  // health
  const std::string* service = need("--service");
  auto r = (*client)->Health(service ? *service : "");
  if (!r.ok()) return Fail(r.status());
  std::cout << (json ? "{\"status\": \"" + *r + "\"}" : *r) << "\n";
  return *r == "SERVING" ? 0 : static_cast<int>(absl::StatusCode::kUnavailable);
}
