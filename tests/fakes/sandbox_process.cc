#include "tests/fakes/sandbox_process.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

#ifndef OQ_PAYMENT_SANDBOX_PATH
#error "OQ_PAYMENT_SANDBOX_PATH must name the payment-sandbox binary"
#endif
#ifndef OQ_MAKE_KEYS_SCRIPT
#error "OQ_MAKE_KEYS_SCRIPT must name tests/fakes/make-keys.sh"
#endif

namespace orderquery::fakes {
namespace {

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

void CurlInitOnce() {
  static const bool done = [] { return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)done;
}

}  // namespace

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<TestKeys> MakeTestKeys(const std::string& dir, bool with_tls) {
  const std::string cmd =
      absl::StrCat("'", OQ_MAKE_KEYS_SCRIPT, "' '", dir, "'", with_tls ? " --tls" : "");
  const int rc = std::system(cmd.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat("make-keys.sh failed (", rc, "): ", cmd));
  TestKeys k;
  k.dir = dir;
  k.merchant_private_key = dir + "/merchant_key.pem";
  k.merchant_public_key = dir + "/merchant_public.pem";
  k.merchant_cert = dir + "/merchant_cert.pem";
  k.platform_private_key = dir + "/platform_key.pem";
  k.platform_public_key = dir + "/platform_public.pem";
  k.platform_cert = dir + "/platform_cert.pem";
  k.platform2_private_key = dir + "/platform2_key.pem";
  k.platform2_cert = dir + "/platform2_cert.pem";
  for (auto [file, out] : {std::pair{"/merchant_serial.txt", &k.merchant_serial},
                           std::pair{"/platform_serial.txt", &k.platform_serial},
                           std::pair{"/platform_cert_serial.txt", &k.platform_cert_serial},
                           std::pair{"/platform2_cert_serial.txt", &k.platform2_cert_serial},
                           std::pair{"/apiv3_key.txt", &k.apiv3_key}}) {
    absl::StatusOr<std::string> v = ReadTextFile(dir + file);
    if (!v.ok()) return v.status();
    *out = Trimmed(*v);
  }
  if (with_tls) {
    k.ca_cert = dir + "/ca_cert.pem";
    k.server_cert = dir + "/server_cert.pem";
    k.server_key = dir + "/server_key.pem";
  }
  return k;
}

SandboxProcess::Options SandboxProcess::Options::FromKeys(const TestKeys& keys, bool tls) {
  Options o;
  o.merchant_public_keys = {keys.merchant_public_key};
  o.platform_private_key = keys.platform_private_key;
  o.platform_serial = keys.platform_serial;
  o.apiv3_key = keys.apiv3_key;
  if (tls) {
    o.tls_cert = keys.server_cert;
    o.tls_key = keys.server_key;
    o.ca_file = keys.ca_cert;
  }
  return o;
}

absl::StatusOr<std::unique_ptr<SandboxProcess>> SandboxProcess::Start(Options options) {
  CurlInitOnce();
  std::unique_ptr<SandboxProcess> p(new SandboxProcess());
  p->tls_ = !options.tls_cert.empty();
  p->ca_file_ = options.ca_file;

  std::vector<std::string> args = {
      options.binary.empty() ? OQ_PAYMENT_SANDBOX_PATH : options.binary, "--port", "0"};
  for (const std::string& k : options.merchant_public_keys) {
    args.insert(args.end(), {"--merchant-public-key", k});
  }
  if (!options.platform_private_key.empty()) {
    args.insert(args.end(), {"--platform-private-key", options.platform_private_key});
  }
  if (!options.platform_serial.empty()) {
    args.insert(args.end(), {"--platform-serial", options.platform_serial});
  }
  if (!options.apiv3_key.empty()) args.insert(args.end(), {"--apiv3-key", options.apiv3_key});
  for (const std::string& c : options.platform_certs) {
    args.insert(args.end(), {"--platform-cert", c});
  }
  if (p->tls_) {
    args.insert(args.end(), {"--tls-cert", options.tls_cert, "--tls-key", options.tls_key});
  }
  std::string scenario_file = options.scenario_file;
  if (!options.scenario.is_null()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/oq-sandbox-scenario-XXXXXX");
    int fd = ::mkstemp(templ.data());
    if (fd < 0) return absl::InternalError(absl::StrCat("mkstemp: ", std::strerror(errno)));
    const std::string text = options.scenario.dump(2);
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    p->temp_scenario_ = templ;
    if (!ok) return absl::InternalError("writing the scenario file failed");
    scenario_file = templ;
  }
  if (!scenario_file.empty()) args.insert(args.end(), {"--scenario", scenario_file});
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());

  auto child = testing::ChildProcess::Start(args);
  if (!child.ok()) return child.status();
  p->child_ = std::move(*child);

  // The first stdout line names the port: "payment-sandbox listening on 127.0.0.1:PORT".
  constexpr char kListening[] = "payment-sandbox listening on ";
  absl::StatusOr<std::string> line = p->child_->WaitForLine(kListening, options.start_timeout);
  const std::string rest = line.ok() ? line->substr(sizeof(kListening) - 1) : "";
  const size_t colon = rest.rfind(':');
  int port = 0;
  if (!line.ok() || colon == std::string::npos ||
      !absl::SimpleAtoi(Trimmed(rest.substr(colon + 1)), &port) || port <= 0) {
    const std::string err = p->child_->Stderr();
    p->Stop().IgnoreError();
    return absl::UnavailableError(absl::StrCat(
        "payment-sandbox did not start: ",
        line.ok() ? "bad first line '" + *line + "'" : std::string(line.status().message()),
        "; its stderr: ", Trimmed(err)));
  }
  p->port_ = port;
  return p;
}

SandboxProcess::~SandboxProcess() {
  Stop().IgnoreError();
  if (!temp_scenario_.empty()) ::unlink(temp_scenario_.c_str());
}

std::string SandboxProcess::base_url() const {
  return absl::StrCat(tls_ ? "https" : "http", "://127.0.0.1:", port_);
}

absl::Status SandboxProcess::Stop() {
  if (child_ == nullptr) return absl::OkStatus();
  child_->Stop(absl::Seconds(5));
  child_.reset();
  return absl::OkStatus();
}

absl::StatusOr<std::pair<int, std::string>> SandboxProcess::Call(const std::string& method,
                                                                 const std::string& path_and_query,
                                                                 const std::string& body,
                                                                 absl::Duration timeout) const {
  CurlInitOnce();
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return absl::InternalError("curl_easy_init failed");
  std::string out;
  const std::string url = base_url() + path_and_query;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(timeout)));  // NOLINT
  curl_easy_setopt(easy, CURLOPT_PROXY, "");
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &out);
  if (tls_) {
    if (ca_file_.empty()) {
      // Control calls to our own child on loopback; the tests of TLS use the transport.
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
      curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file_.c_str());
    }
  }
  curl_slist* headers = nullptr;
  if (method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));  // NOLINT
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  }
  const CURLcode rc = curl_easy_perform(easy);
  long status = 0;  // NOLINT(runtime/int): curl's type
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(easy);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("sandbox control call ", method, " ", path_and_query,
                                               ": ", curl_easy_strerror(rc)));
  }
  return std::make_pair(static_cast<int>(status), out);
}

absl::StatusOr<nlohmann::json> SandboxProcess::GetJson(const std::string& path) const {
  absl::StatusOr<std::pair<int, std::string>> r = Call("GET", path);
  if (!r.ok()) return r.status();
  if (r->first != 200) {
    return absl::FailedPreconditionError(
        absl::StrCat("sandbox GET ", path, " -> ", r->first, ": ", r->second));
  }
  nlohmann::json j = nlohmann::json::parse(r->second, nullptr, false);
  if (j.is_discarded()) return absl::InternalError("sandbox returned non-JSON");
  return j;
}

namespace {

absl::Status Expect200(const absl::StatusOr<std::pair<int, std::string>>& r,
                       const std::string& what) {
  if (!r.ok()) return r.status();
  if (r->first != 200) {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox ", what, " -> ", r->first, ": ", r->second));
  }
  return absl::OkStatus();
}

std::string Escape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '*') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

absl::Status SandboxProcess::UpsertOrder(const nlohmann::json& orders) {
  return Expect200(Call("POST", "/__sandbox/orders", orders.dump()), "POST /__sandbox/orders");
}

absl::Status SandboxProcess::SetDefaults(const nlohmann::json& defaults) {
  return Expect200(Call("POST", "/__sandbox/defaults", defaults.dump()),
                   "POST /__sandbox/defaults");
}

absl::StatusOr<nlohmann::json> SandboxProcess::Stats(const std::string& out_trade_no) const {
  return GetJson(out_trade_no.empty()
                     ? "/__sandbox/stats"
                     : absl::StrCat("/__sandbox/stats?out_trade_no=", Escape(out_trade_no)));
}

absl::StatusOr<nlohmann::json> SandboxProcess::MerchantStats(const std::string& mchid) const {
  return GetJson(absl::StrCat("/__sandbox/stats?mchid=", Escape(mchid)));
}

absl::StatusOr<nlohmann::json> SandboxProcess::GetOrder(const std::string& out_trade_no) const {
  return GetJson(absl::StrCat("/__sandbox/orders/", Escape(out_trade_no)));
}

absl::Status SandboxProcess::Reset(bool keep_orders) {
  return Expect200(
      Call("POST", keep_orders ? "/__sandbox/reset?keep_orders=1" : "/__sandbox/reset"),
      "POST /__sandbox/reset");
}

absl::StatusOr<nlohmann::json> SandboxProcess::Notify(const nlohmann::json& request) const {
  // Each delivery may take up to 7 s (connect + answer) and copies go one after another.
  absl::StatusOr<std::pair<int, std::string>> r =
      Call("POST", "/__sandbox/notify", request.dump(), absl::Seconds(60));
  if (!r.ok()) return r.status();
  if (r->first != 200) {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox POST /__sandbox/notify -> ", r->first, ": ", r->second));
  }
  nlohmann::json j = nlohmann::json::parse(r->second, nullptr, false);
  if (j.is_discarded()) return absl::InternalError("sandbox returned non-JSON");
  return j;
}

absl::StatusOr<nlohmann::json> SandboxProcess::SetCertificates(const nlohmann::json& change) const {
  absl::StatusOr<std::pair<int, std::string>> r =
      Call("POST", "/__sandbox/certificates", change.dump());
  if (!r.ok()) return r.status();
  if (r->first != 200) {
    return absl::InvalidArgumentError(
        absl::StrCat("sandbox POST /__sandbox/certificates -> ", r->first, ": ", r->second));
  }
  nlohmann::json j = nlohmann::json::parse(r->second, nullptr, false);
  if (j.is_discarded()) return absl::InternalError("sandbox returned non-JSON");
  return j;
}

absl::StatusOr<nlohmann::json> SandboxProcess::Certificates() const {
  return GetJson("/__sandbox/certificates");
}

}  // namespace orderquery::fakes
