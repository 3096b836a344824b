#include "server/payment/wechat/client.h"

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/validation.h"
#include "server/payment/wechat/certificates.h"
#include "server/payment/wechat/crypto.h"
#include "server/payment/wechat/endpoints.h"
#include "server/payment/wechat/errors.h"
#include "server/payment/wechat/signer.h"
#include "server/payment/wechat/text.h"

namespace orderquery::payment::wechat {
namespace {

// A merchant that cannot sign or verify is our configuration's fault, not the caller's.
absl::Status Misconfigured(const MerchantConfig& m, absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("WeChat merchant \"", m.name, "\" misconfigured: ", what));
}

// The API a path belongs to, as a metric label (never the order number in it).
std::string EndpointLabel(absl::string_view method, absl::string_view path_and_query) {
  absl::string_view path = path_and_query.substr(0, path_and_query.find('?'));
  if (absl::StartsWith(path, "/v3/certificates")) return "certificates";
  if (absl::StartsWith(path, "/v3/vehicle/")) return "vehicle_transaction";
  if (method == "POST" && absl::EndsWith(path, "/close")) return "close_order";
  if (absl::StrContains(path, "/transactions/out-trade-no/")) return "query_order";
  return "other";
}

}  // namespace

HttpWechatPayClient::HttpWechatPayClient(http::Transport* transport)
    : HttpWechatPayClient(transport, Options()) {}

HttpWechatPayClient::HttpWechatPayClient(http::Transport* transport, Options options)
    : transport_(transport), options_(std::move(options)) {}

absl::Time HttpWechatPayClient::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

void HttpWechatPayClient::Call(const MerchantConfig& merchant, absl::string_view method,
                               const std::string& path_and_query, std::string body,
                               absl::Time deadline, VerifiedCallback on_reply, bool verify) {
  if (!merchant.private_key.has_value()) {
    on_reply(Misconfigured(merchant, "no private key"));
    return;
  }
  const absl::Time now = Now();
  if (deadline <= now) {
    on_reply(FromTransportFailure(
        absl::DeadlineExceededError("the deadline passed before the request was sent")));
    return;
  }
  absl::StatusOr<std::string> authorization =
      BuildAuthorization(merchant.mchid, merchant.serial_no, *merchant.private_key, method,
                         path_and_query, body, absl::ToUnixSeconds(now), RandomNonce(32));
  if (!authorization.ok()) {
    on_reply(
        Misconfigured(merchant, absl::StrCat("cannot sign: ", authorization.status().message())));
    return;
  }

  http::Request request;
  request.method = std::string(method);
  request.url = absl::StrCat(merchant.base_url, path_and_query);
  request.headers = {
      {"Authorization", *std::move(authorization)},
      {"Accept", "application/json"},
      {"User-Agent", options_.user_agent},
  };
  if (method != "GET") request.headers.emplace_back("Content-Type", "application/json");
  // The signature covers these bytes: they go out exactly as signed.
  request.body = std::move(body);
  // Public-key mode: WeChat wants the full PUB_KEY_ID_… so it knows which key we expect.
  if (!merchant.wechatpay_serial.empty()) {
    request.headers.emplace_back(std::string(kSerialHeader), merchant.wechatpay_serial);
  }
  request.deadline = deadline;
  request.limiter_key = merchant.mchid;
  // A query changes nothing, and a close is idempotent at WeChat (see CloseOrder): both are safe
  // to send again after a 5xx or a dropped connection.
  request.idempotent = true;
  request.metric_provider = "wechat";
  request.metric_merchant = merchant.name;
  request.metric_endpoint = EndpointLabel(method, path_and_query);

  // The reply may arrive after `merchant` is gone: keep copies of what checking it needs. The key
  // store (when there is one) is read when the reply arrives, so a refresh in between counts.
  transport_->Send(
      std::move(request),
      [clock = options_.clock, store = merchant.key_store, fixed = merchant.verifier, verify,
       on_reply = std::move(on_reply)](absl::StatusOr<http::Response> reply) {
        if (!reply.ok()) {
          on_reply(FromTransportFailure(reply.status()));
          return;
        }
        if (!http::IsSuccessStatus(reply->status)) {
          // Error replies are often unsigned: they only ever become an error status.
          on_reply(FromErrorReply(*reply));
          return;
        }
        if (!verify) {  // the caller checks it (the certificates download: key_store.h)
          on_reply(std::move(reply));
          return;
        }
        const ResponseVerifier* verifier = &fixed;
        std::shared_ptr<const ResponseVerifier> current;
        if (store) {
          current = store->Current();
          verifier = current.get();
        }
        // Verify the body bytes exactly as received, before anything reads them.
        const absl::Time received = clock ? clock() : absl::Now();
        if (absl::Status ok = verifier->Verify(*reply, received); !ok.ok()) {
          // Not logged here: the status carries the verifier's whole reason and the HTTP status,
          // and the port's logging decorator logs it once (usecase/port_logging.h).
          int count = 0;
          const std::string* serial = internal::FindHeader(reply->headers, kSerialHeader, &count);
          // A serial we do not know may be a new platform certificate: fetch the list
          // (rate-limited); this reply stays unverified ("unknown, ask again").
          if (store && serial != nullptr && count == 1 && !verifier->HasSerial(*serial)) {
            store->RequestRefresh(*serial);
          }
          on_reply(FromVerificationFailure(ok, reply->status));
          return;
        }
        on_reply(std::move(reply));
      });
}

void HttpWechatPayClient::Get(const MerchantConfig& merchant, const std::string& path_and_query,
                              absl::Time deadline, VerifiedCallback on_reply) {
  Call(merchant, "GET", path_and_query, "", deadline, std::move(on_reply));
}

void HttpWechatPayClient::FetchCertificates(
    const MerchantConfig& merchant, absl::Time deadline,
    std::function<void(absl::StatusOr<http::Response>)> done) {
  Call(merchant, "GET", std::string(kCertificatesPath), "", deadline, std::move(done),
       /*verify=*/false);
}

absl::Status AttachKeyStore(MerchantConfig& merchant, HttpWechatPayClient* client,
                            const KeyStoreSettings& settings) {
  MerchantKeyStore::Options o;
  o.merchant = merchant.name;
  o.apiv3_key = merchant.apiv3_key;
  o.refresh_interval = settings.refresh_interval;
  o.min_refresh_gap = settings.min_refresh_gap;
  o.download_timeout = settings.download_timeout;
  o.clock = settings.clock;
  if (merchant.download_certificates) {
    if (client == nullptr) return absl::InvalidArgumentError("no client to download with");
    // A copy without the store: the store must not own itself through its fetcher.
    MerchantConfig signer = merchant;
    signer.key_store.reset();
    o.fetcher = [client, signer = std::move(signer)](
                    absl::Time deadline, std::function<void(absl::StatusOr<http::Response>)> done) {
      client->FetchCertificates(signer, deadline, std::move(done));
    };
    o.allow_bootstrap = merchant.configured_keys.empty();
  }
  absl::StatusOr<std::shared_ptr<MerchantKeyStore>> store = MerchantKeyStore::Create(
      std::move(o), merchant.configured_keys, merchant.configured_expiries);
  if (!store.ok()) return store.status();
  merchant.key_store = *std::move(store);
  return absl::OkStatus();
}

void HttpWechatPayClient::QueryOrder(const MerchantConfig& merchant, absl::string_view out_trade_no,
                                     absl::Time deadline, TransactionCallback done) {
  if (absl::Status s = ValidateOutTradeNo(out_trade_no); !s.ok()) {
    done(s);
    return;
  }
  absl::StatusOr<std::string> path =
      merchant.mode == ApiMode::kDirect
          ? DirectQueryPath(out_trade_no, merchant.mchid)
          : PartnerQueryPath(out_trade_no, merchant.mchid, merchant.sub_mchid);
  if (!path.ok()) {
    // The order number was fine, so the merchant ids are what is wrong.
    done(Misconfigured(merchant, path.status().message()));
    return;
  }
  const ApiMode mode = merchant.mode;
  Get(merchant, *path, deadline,
      [mode, asked = std::string(out_trade_no),
       done = std::move(done)](absl::StatusOr<http::Response> reply) {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        absl::StatusOr<Transaction> t = DecodeTransaction(reply->body, mode);
        if (!t.ok()) {  // logged once, by the port's logging decorator
          done(FromUnreadableReply(t.status(), reply->status));
          return;
        }
        if (t->out_trade_no != asked) {
          done(FromInconsistentReply(
              absl::InvalidArgumentError(absl::StrCat("reply is about order \"",
                                                      internal::Printable(t->out_trade_no),
                                                      "\", not \"", asked, "\"")),
              reply->status));
          return;
        }
        done(*std::move(t));
      });
}

void HttpWechatPayClient::QueryVehicleTransaction(const MerchantConfig& merchant,
                                                  absl::string_view out_trade_no,
                                                  absl::string_view sub_mchid, absl::Time deadline,
                                                  VehicleCallback done) {
  if (absl::Status s = ValidateOutTradeNo(out_trade_no); !s.ok()) {
    done(s);
    return;
  }
  if (absl::Status s = ValidateMchId(sub_mchid, "sub_mchid"); !s.ok()) {
    done(s);
    return;
  }
  if (merchant.mode != ApiMode::kPartner) {
    done(Misconfigured(merchant, "the parking query needs a partner (service provider) merchant"));
    return;
  }
  absl::StatusOr<std::string> path = VehicleQueryPath(out_trade_no, sub_mchid);
  if (!path.ok()) {
    done(path.status());
    return;
  }
  Get(merchant, *path, deadline,
      [asked = std::string(out_trade_no), sub = std::string(sub_mchid), sp = merchant.mchid,
       done = std::move(done)](absl::StatusOr<http::Response> reply) {
        if (!reply.ok()) {
          done(reply.status());
          return;
        }
        absl::StatusOr<domain::VehicleTransaction> t = DecodeVehicleTransaction(reply->body);
        if (!t.ok()) {  // logged once, by the port's logging decorator
          done(FromUnreadableReply(t.status(), reply->status));
          return;
        }
        std::string wrong;
        if (t->out_trade_no != asked) {
          wrong = absl::StrCat("reply is about order \"", internal::Printable(t->out_trade_no),
                               "\", not \"", asked, "\"");
        } else if (t->sub_mchid != sub) {
          wrong = absl::StrCat("reply is for sub_mchid \"", internal::Printable(t->sub_mchid),
                               "\", not \"", sub, "\"");
        } else if (t->sp_mchid != sp) {
          wrong = absl::StrCat("reply is for sp_mchid \"", internal::Printable(t->sp_mchid),
                               "\", not \"", sp, "\"");
        }
        if (!wrong.empty()) {
          done(FromInconsistentReply(absl::InvalidArgumentError(wrong), reply->status));
          return;
        }
        VehicleResult result;
        result.transaction = *std::move(t);
        result.body = std::move(reply->body);
        done(std::move(result));
      });
}

void HttpWechatPayClient::CloseOrder(const MerchantConfig& merchant, absl::string_view out_trade_no,
                                     absl::string_view sub_mchid, absl::Time deadline,
                                     CloseCallback done) {
  if (absl::Status s = ValidateOutTradeNo(out_trade_no); !s.ok()) {
    done(s);
    return;
  }
  nlohmann::json body;
  absl::StatusOr<std::string> path;
  if (merchant.mode == ApiMode::kDirect) {
    if (absl::Status s = ValidateMchId(merchant.mchid, "mchid"); !s.ok()) {
      done(Misconfigured(merchant, s.message()));
      return;
    }
    path = DirectClosePath(out_trade_no);
    body["mchid"] = merchant.mchid;
  } else {
    const absl::string_view sub = sub_mchid.empty() ? merchant.sub_mchid : sub_mchid;
    if (!sub_mchid.empty()) {
      // The caller's value: a bad one is the caller's mistake.
      if (absl::Status s = ValidateMchId(sub_mchid, "sub_mchid"); !s.ok()) {
        done(s);
        return;
      }
    }
    if (absl::Status s = ValidateMchId(merchant.mchid, "sp_mchid"); !s.ok()) {
      done(Misconfigured(merchant, s.message()));
      return;
    }
    if (absl::Status s = ValidateMchId(sub, "sub_mchid"); !s.ok()) {
      done(Misconfigured(merchant, "no sub_mchid given and none configured"));
      return;
    }
    path = PartnerClosePath(out_trade_no);
    body["sp_mchid"] = merchant.mchid;
    body["sub_mchid"] = std::string(sub);
  }
  if (!path.ok()) {
    done(path.status());
    return;
  }
  Call(merchant, "POST", *path, body.dump(), deadline,
       [done = std::move(done)](absl::StatusOr<http::Response> reply) {
         // A verified 2xx (204, no body) is all there is to read.
         done(reply.ok() ? absl::OkStatus() : reply.status());
       });
}

}  // namespace orderquery::payment::wechat
