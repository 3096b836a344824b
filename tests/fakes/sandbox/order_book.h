// What the sandbox's modules share about their orders: the scenario keys every order takes
// (latency_ms, transitions, faults), the scenario's built-in order, orders, templates and
// defaults, the scripted state changes, the request counters behind GET /__sandbox/stats, and the
// control routes for orders and defaults. A module keeps what is its provider's: an order's own
// fields, the checks of a request, the replies.
#ifndef ORDERQUERY_TESTS_FAKES_SANDBOX_ORDER_BOOK_H_
#define ORDERQUERY_TESTS_FAKES_SANDBOX_ORDER_BOOK_H_

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/fakes/sandbox/faults.h"
#include "tests/fakes/sandbox/module.h"

namespace orderquery::sandbox {

// How one module spells its part of the scenario and of the control API. With prefix P the
// scenario keys are builtin_Porders, Porders, Ptemplates and Pdefaults, and the control routes
// POST /__sandbox/Porders, GET /__sandbox/Porders/{id} and POST /__sandbox/Pdefaults.
struct OrderFormat {
  std::string prefix;               // "" (WeChat) or "trade_"
  std::string noun;                 // in messages: "" or "trade " ("a trade template is …")
  std::string id_key;               // the order's number among its keys ("out_trade_no")
  std::string stats_id_key;         // GET /__sandbox/stats?KEY=ID, echoed in the answer
  std::string stats_merchant_key;   // GET /__sandbox/stats?KEY=MERCHANT, echoed in the answer
  std::string state_key;            // the order's state in stats and GET …/orders/{id}
  std::string state_name;           // in messages: "STATE" (strings) or "STATUS" (integers)
  bool integer_states = false;      // a transition's "to" is an integer, else a string
  std::string integer_hint;         // follows "must be an integer" in messages (" (fen)")
  bool name_listed_orders = false;  // errors of an order in an array start "order ID: "
  bool count_codes = false;         // per-order stats count the replies' envelope codes
  std::set<std::string> fault_types;
  // Per-order event counters the module counts with OrderBook::CountEvent (e.g. "closes"); each
  // appears in the order's stats, 0 until counted.
  std::vector<std::string> event_counters = {};
};

// {"to": STATE, "after_queries": N and/or "after_ms": T}; `to` as the scenario wrote it.
struct Transition {
  nlohmann::json to;
  int64_t after_queries = -1;
  int64_t after_ms = -1;
};

// The keys every module's orders take besides their own fields.
struct Script {
  std::vector<Transition> transitions;
  int64_t latency_ms = 0;
  std::vector<FaultSpec> faults;
};

// j[key] when present and not null; an error naming the key when it is not an integer.
absl::Status ReadInt(const nlohmann::json& j, const char* key, std::optional<int64_t>* out,
                     const std::string& hint = "");
// Reads latency_ms, transitions and faults (in this order) of one order.
absl::Status ParseScript(const nlohmann::json& order, const OrderFormat& format, Script* out);
// Reads a defaults object: {"latency_ms": N, "faults": [FAULT…]}.
absl::Status ParseDefaults(const nlohmann::json& j, const OrderFormat& format, int64_t* latency_ms,
                           std::vector<FaultSpec>* faults);

// The waits of an admitted request: its latency, then (if its fault is a timeout) the timeout's
// sleep_ms or the context's default. False when the sandbox shuts down meanwhile.
bool SleepLatency(const SandboxContext& ctx, int64_t latency_ms);
bool SleepForTimeoutFault(const SandboxContext& ctx, const FaultSpec* fault);

struct OrderCounters {
  uint64_t requests = 0;     // every request naming this order
  uint64_t verified = 0;     // passed the module's checks (fault selection counts these)
  uint64_t answered = 0;     // got a 200 built from the order's state
  uint64_t sign_errors = 0;  // refused by the signature check
  int64_t inflight = 0;
  int64_t max_inflight = 0;
  std::map<std::string, uint64_t> statuses;
  std::map<std::string, uint64_t> codes;  // only where replies carry an envelope code
  std::map<std::string, uint64_t> faults;
  std::map<std::string, uint64_t> events;  // OrderFormat::event_counters
};

struct MerchantCounters {
  uint64_t requests = 0;
  int64_t inflight = 0;
  int64_t max_inflight = 0;
};

// Per-order and per-merchant request counters. Not locked: the OrderBook's lock guards them.
class RequestCounters {
 public:
  RequestCounters(bool count_codes, std::vector<std::string> event_names)
      : count_codes_(count_codes), event_names_(std::move(event_names)) {}

  void CountRequest(const std::string& id) { ++orders_[id].requests; }
  void CountSignError(const std::string& id);
  void CountUnknownOrder() { ++unknown_order_requests_; }
  // One reply: its HTTP status, its envelope code ("" when none) and the fault that made it.
  void CountReply(const std::string& id, int status, const std::string& code,
                  const FaultSpec* fault);
  // A request that passed the checks: returns its number among the order's verified requests.
  uint64_t Verified(const std::string& id);
  void Enter(const std::string& id, const std::string& merchant);
  void Leave(const std::string& id, const std::string& merchant);
  void CountAnswered(const std::string& id) { ++orders_[id].answered; }
  void CountEvent(const std::string& id, const std::string& name) { ++orders_[id].events[name]; }
  // Zeroes everything but the requests in flight, which still leave through Leave().
  void Reset();

  // Order `id`'s counters (zeros when it has none).
  nlohmann::json OrderJson(const std::string& id) const;
  nlohmann::json MerchantJson(const std::string& merchant) const;
  // The ids with counters, {merchant: counters}, and the module-wide counts.
  std::vector<std::string> OrderIds() const;
  nlohmann::json MerchantsJson() const;
  uint64_t sign_errors() const { return sign_errors_; }
  uint64_t unknown_order_requests() const { return unknown_order_requests_; }

 private:
  const bool count_codes_;
  const std::vector<std::string> event_names_;
  std::map<std::string, OrderCounters> orders_;
  std::map<std::string, MerchantCounters> merchants_;
  uint64_t sign_errors_ = 0;
  uint64_t unknown_order_requests_ = 0;
};

// A module's orders. `State` is the module's order state and has
//   explicit State(Spec spec);  the order as loaded, in the spec's own state
//   Spec spec;                  with `Script script`, `nlohmann::json source` (the order as
//                               given) and `std::string Id() const`
//   size_t next_transition; absl::Time state_since; int64_t answered_in_state;
//   void Enter(const nlohmann::json& to, absl::Time at);  the module's part of a transition
//   nlohmann::json StateJson() const;  the state under format.state_key
// Every method takes the book's lock; callbacks run under it and must not call the book.
template <typename State>
class OrderBook {
 public:
  using Spec = decltype(State::spec);

  struct Hooks {
    // Parses one order (from the scenario, a control request or a template).
    std::function<absl::StatusOr<Spec>(const nlohmann::json&)> parse;
    // The "reply" of GET /__sandbox/Porders/{id}: what a query would get now.
    std::function<nlohmann::json(const State&)> describe;
    // Answers a control request that failed: 400 with the reason, or 404 "no such order".
    std::function<void(httplib::Response&, int status, const std::string& message)> control_error;
    // Optional. Runs (under the lock) whenever an order enters a state: loaded or upserted in it,
    // a transition, a Change. It must not call the book; hand work to another thread.
    std::function<void(const State&)> entered = nullptr;
    // Optional. Orders it accepts get their timed (after_ms) transitions taken by AdvanceWatched()
    // even when nobody asks about them, so `entered` sees them on time.
    std::function<bool(const State&)> watch = nullptr;
  };

  // A request that passed the module's checks: the fault it gets and the latency to add. While
  // the ticket lives the request counts as in flight for its order and merchant.
  class Ticket {
   public:
    Ticket(OrderBook* book, std::string id, std::string merchant)
        : book_(book), id_(std::move(id)), merchant_(std::move(merchant)) {}
    Ticket(Ticket&& other) noexcept
        : fault(std::move(other.fault)),
          latency_ms(other.latency_ms),
          book_(std::exchange(other.book_, nullptr)),
          id_(std::move(other.id_)),
          merchant_(std::move(other.merchant_)) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (book_ == nullptr) return;
      std::lock_guard<std::mutex> lock(book_->mu_);
      book_->counters_.Leave(id_, merchant_);
    }

    const FaultSpec* fault_or_null() const { return fault ? &*fault : nullptr; }

    std::optional<FaultSpec> fault;
    int64_t latency_ms = 0;

   private:
    OrderBook* book_;
    std::string id_;
    std::string merchant_;
  };

  // `builtin_order` is loaded unless the scenario says builtin_Porders: false; `rng_seed` seeds
  // the percentage faults.
  OrderBook(OrderFormat format, nlohmann::json builtin_order, Hooks hooks, uint64_t rng_seed)
      : format_(std::move(format)),
        builtin_order_(std::move(builtin_order)),
        hooks_(std::move(hooks)),
        counters_(format_.count_codes, format_.event_counters),
        rng_(rng_seed) {}

  absl::Status LoadScenario(const nlohmann::json& scenario);
  void RegisterControlRoutes(httplib::Server& server);
  void Reset(bool keep_orders);
  nlohmann::json Stats() const;
  std::optional<nlohmann::json> StatsFor(const httplib::Params& params) const;

  // For the module's query handler.
  void CountRequest(const std::string& id) {
    Locked([&] { counters_.CountRequest(id); });
  }
  void CountSignError(const std::string& id) {
    Locked([&] { counters_.CountSignError(id); });
  }
  void CountReply(const std::string& id, int status, const std::string& code = "",
                  const FaultSpec* fault = nullptr) {
    Locked([&] { counters_.CountReply(id, status, code, fault); });
  }
  // A request for an order that is not there (or not the caller's, where that looks the same).
  void CountUnknownOrder(const std::string& id, int status, const std::string& code = "") {
    Locked([&] {
      counters_.CountUnknownOrder();
      counters_.CountReply(id, status, code, nullptr);
    });
  }
  // Finds order `id` (making it from a template if one matches) and lets `accept` (given the
  // order, or nullptr when there is none) decide whether this request may have it. If so, the
  // request counts as verified and in flight for `id` and `merchant`, and the ticket says how
  // to answer; if not, nullopt and the caller counts and sends the refusal.
  std::optional<Ticket> Admit(const std::string& id, const std::string& merchant,
                              const std::function<bool(const State*)>& accept);
  // Brings order `id` up to date, lets `reply` build the answer from it and counts the answer
  // (which may move the order on). False if the order went away meanwhile (reset or replaced).
  bool Answer(const std::string& id, const std::function<void(const State&)>& reply);
  // Brings order `id` up to date and lets `decide` look at it: a state returned moves the order
  // there for good (its remaining transitions are dropped), nullopt leaves it. Not counted as an
  // answer. False if there is no such order (templates are not consulted).
  bool Change(const std::string& id,
              const std::function<std::optional<nlohmann::json>(const State&)>& decide);
  // Brings order `id` up to date and returns what `read` makes of it, nullopt if there is no such
  // order. Not counted as an answer.
  std::optional<nlohmann::json> Peek(const std::string& id,
                                     const std::function<nlohmann::json(const State&)>& read);
  // Takes the due timed transitions of the orders Hooks::watch accepted (a module's timer).
  void AdvanceWatched();
  void CountEvent(const std::string& id, const std::string& name) {
    Locked([&] { counters_.CountEvent(id, name); });
  }

 private:
  struct Template {
    std::string prefix;
    nlohmann::json order;
  };

  template <typename F>
  void Locked(F f) {
    std::lock_guard<std::mutex> lock(mu_);
    f();
  }

  State NewState(Spec spec, absl::Time now);
  // Adds or replaces an order (and keeps the watched set in step).
  State* InsertLocked(const std::string& id, State state);
  void Entered(const State& o) {
    if (hooks_.entered) hooks_.entered(o);
  }
  void Take(State& o, const Transition& t, absl::Time at);
  void AdvanceByTime(State& o, absl::Time now);
  void AdvanceByQueries(State& o, absl::Time now);

  absl::StatusOr<std::vector<Spec>> ParseOrders(const nlohmann::json& j) const;
  void Upsert(const httplib::Request& req, httplib::Response& res);
  void Describe(const std::string& id, httplib::Response& res);
  void SetDefaults(const httplib::Request& req, httplib::Response& res);
  State* FindOrCreateLocked(const std::string& id);
  nlohmann::json OrderStatsLocked(const std::string& id) const;

  const OrderFormat format_;
  const nlohmann::json builtin_order_;
  const Hooks hooks_;

  mutable std::mutex mu_;
  std::map<std::string, State> orders_;
  std::set<std::string> watched_;  // ids Hooks::watch accepted
  std::vector<Template> templates_;
  int64_t default_latency_ms_ = 0;
  std::vector<FaultSpec> default_faults_;
  RequestCounters counters_;
  std::mt19937_64 rng_;
};

template <typename State>
State OrderBook<State>::NewState(Spec spec, absl::Time now) {
  State o(std::move(spec));
  o.state_since = now;
  Entered(o);
  AdvanceByQueries(o, now);  // a transition after 0 queries applies at once
  return o;
}

template <typename State>
State* OrderBook<State>::InsertLocked(const std::string& id, State state) {
  if (hooks_.watch && hooks_.watch(state)) {
    watched_.insert(id);
  } else {
    watched_.erase(id);
  }
  return &orders_.insert_or_assign(id, std::move(state)).first->second;
}

template <typename State>
void OrderBook<State>::Take(State& o, const Transition& t, absl::Time at) {
  ++o.next_transition;
  o.state_since = at;
  o.answered_in_state = 0;
  o.Enter(t.to, at);
  Entered(o);
}

template <typename State>
void OrderBook<State>::AdvanceByTime(State& o, absl::Time now) {
  const std::vector<Transition>& ts = o.spec.script.transitions;
  while (o.next_transition < ts.size()) {
    const Transition& t = ts[o.next_transition];
    if (t.after_ms < 0 || now - o.state_since < absl::Milliseconds(t.after_ms)) return;
    // The next state starts when this one was due, so chained timed transitions keep time.
    Take(o, t, o.state_since + absl::Milliseconds(t.after_ms));
  }
}

template <typename State>
void OrderBook<State>::AdvanceByQueries(State& o, absl::Time now) {
  const std::vector<Transition>& ts = o.spec.script.transitions;
  if (o.next_transition >= ts.size()) return;
  const Transition& t = ts[o.next_transition];
  if (t.after_queries >= 0 && o.answered_in_state >= t.after_queries) Take(o, t, now);
}

template <typename State>
absl::StatusOr<std::vector<typename OrderBook<State>::Spec>> OrderBook<State>::ParseOrders(
    const nlohmann::json& j) const {
  const std::string key = format_.prefix + "orders";
  std::vector<Spec> out;
  const nlohmann::json* list = &j;
  if (j.is_object() && j.contains(key)) list = &j[key];
  if (list->is_object()) {
    absl::StatusOr<Spec> o = hooks_.parse(*list);
    if (!o.ok()) return o.status();
    out.push_back(*std::move(o));
    return out;
  }
  if (!list->is_array()) return absl::InvalidArgumentError(key + ": an object or an array");
  for (const nlohmann::json& item : *list) {
    absl::StatusOr<Spec> o = hooks_.parse(item);
    if (!o.ok() && format_.name_listed_orders) {
      return absl::InvalidArgumentError(
          absl::StrCat("order ", item.is_object() ? item.value(format_.id_key, "?") : "?", ": ",
                       o.status().message()));
    }
    if (!o.ok()) return o.status();
    out.push_back(*std::move(o));
  }
  return out;
}

template <typename State>
absl::Status OrderBook<State>::LoadScenario(const nlohmann::json& scenario) {
  const std::string& p = format_.prefix;
  std::vector<Spec> specs;
  std::vector<Template> templates;
  int64_t latency = 0;
  std::vector<FaultSpec> faults;
  bool builtin = true;
  if (auto it = scenario.find("builtin_" + p + "orders"); it != scenario.end()) {
    if (!it->is_boolean()) {
      return absl::InvalidArgumentError(absl::StrCat("'builtin_", p, "orders' must be a boolean"));
    }
    builtin = it->get<bool>();
  }
  if (builtin) {
    absl::StatusOr<Spec> seed = hooks_.parse(builtin_order_);
    if (!seed.ok()) return seed.status();
    specs.push_back(*std::move(seed));
  }
  if (auto it = scenario.find(p + "orders"); it != scenario.end()) {
    absl::StatusOr<std::vector<Spec>> parsed = ParseOrders(*it);
    if (!parsed.ok()) return parsed.status();
    for (auto& o : *parsed) specs.push_back(std::move(o));
  }
  if (auto it = scenario.find(p + "templates"); it != scenario.end()) {
    if (!it->is_array()) {
      return absl::InvalidArgumentError(absl::StrCat("'", p, "templates' must be an array"));
    }
    for (const nlohmann::json& t : *it) {
      if (!t.is_object() || !t.contains("prefix") || !t["prefix"].is_string() ||
          !t.contains("order") || !t["order"].is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a ", format_.noun, "template is {\"prefix\": \"...\", \"order\": {...without ",
            format_.id_key, "}}"));
      }
      nlohmann::json probe = t["order"];
      probe[format_.id_key] = "TEMPLATE_PROBE";
      if (absl::StatusOr<Spec> ok = hooks_.parse(probe); !ok.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(format_.noun, "template ",
                                                       t["prefix"].get<std::string>(), ": ",
                                                       ok.status().message()));
      }
      templates.push_back(Template{t["prefix"].get<std::string>(), t["order"]});
    }
  }
  if (auto it = scenario.find(p + "defaults"); it != scenario.end()) {
    if (absl::Status s = ParseDefaults(*it, format_, &latency, &faults); !s.ok()) return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = absl::Now();
  for (auto& spec : specs) {
    std::string id = spec.Id();
    InsertLocked(id, NewState(std::move(spec), now));
  }
  templates_ = std::move(templates);
  default_latency_ms_ = latency;
  default_faults_ = std::move(faults);
  return absl::OkStatus();
}

template <typename State>
void OrderBook<State>::RegisterControlRoutes(httplib::Server& server) {
  const std::string base = "/__sandbox/" + format_.prefix;
  server.Post(base + "orders",
              [this](const httplib::Request& req, httplib::Response& res) { Upsert(req, res); });
  server.Get(base + "orders/([^/]+)", [this](const httplib::Request& req, httplib::Response& res) {
    Describe(req.matches[1], res);
  });
  server.Post(base + "defaults", [this](const httplib::Request& req, httplib::Response& res) {
    SetDefaults(req, res);
  });
}

template <typename State>
void OrderBook<State>::Upsert(const httplib::Request& req, httplib::Response& res) {
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return hooks_.control_error(res, 400, "body is not JSON");
  absl::StatusOr<std::vector<Spec>> specs = ParseOrders(body);
  if (!specs.ok()) {
    return hooks_.control_error(res, 400, std::string(specs.status().message()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = absl::Now();
  nlohmann::json ids = nlohmann::json::array();
  for (auto& spec : *specs) {
    std::string id = spec.Id();
    ids.push_back(id);
    InsertLocked(id, NewState(std::move(spec), now));
  }
  ReplyJson(res, 200, {{"upserted", ids}});
}

template <typename State>
void OrderBook<State>::Describe(const std::string& id, httplib::Response& res) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = orders_.find(id);
  if (it == orders_.end()) return hooks_.control_error(res, 404, "no such order");
  State& o = it->second;
  AdvanceByTime(o, absl::Now());
  ReplyJson(res, 200,
            {{"order", o.spec.source},
             {format_.state_key, o.StateJson()},
             {"answered_in_state", o.answered_in_state},
             {"next_transition", o.next_transition},
             {"reply", hooks_.describe(o)}});
}

template <typename State>
void OrderBook<State>::SetDefaults(const httplib::Request& req, httplib::Response& res) {
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return hooks_.control_error(res, 400, "body is not JSON");
  int64_t latency = 0;
  std::vector<FaultSpec> faults;
  if (absl::Status s = ParseDefaults(body, format_, &latency, &faults); !s.ok()) {
    return hooks_.control_error(res, 400, std::string(s.message()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  default_latency_ms_ = latency;
  default_faults_ = std::move(faults);
  ReplyJson(res, 200, body);
}

template <typename State>
void OrderBook<State>::Reset(bool keep_orders) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_.Reset();
  if (!keep_orders) {
    orders_.clear();
    watched_.clear();
    templates_.clear();
    default_latency_ms_ = 0;
    default_faults_.clear();
  }
}

template <typename State>
nlohmann::json OrderBook<State>::OrderStatsLocked(const std::string& id) const {
  nlohmann::json j = counters_.OrderJson(id);
  j[format_.stats_id_key] = id;
  auto o = orders_.find(id);
  j["known"] = o != orders_.end();
  j[format_.state_key] = o != orders_.end() ? o->second.StateJson() : nlohmann::json();
  return j;
}

template <typename State>
nlohmann::json OrderBook<State>::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json orders = nlohmann::json::object();
  for (const std::string& id : counters_.OrderIds()) orders[id] = OrderStatsLocked(id);
  return {{"orders", orders},
          {"merchants", counters_.MerchantsJson()},
          {"sign_errors", counters_.sign_errors()},
          {"unknown_order_requests", counters_.unknown_order_requests()},
          {"orders_defined", orders_.size()}};
}

template <typename State>
std::optional<nlohmann::json> OrderBook<State>::StatsFor(const httplib::Params& params) const {
  if (auto it = params.find(format_.stats_id_key); it != params.end()) {
    std::lock_guard<std::mutex> lock(mu_);
    return OrderStatsLocked(it->second);
  }
  if (auto it = params.find(format_.stats_merchant_key); it != params.end()) {
    std::lock_guard<std::mutex> lock(mu_);
    nlohmann::json j = counters_.MerchantJson(it->second);
    j[format_.stats_merchant_key] = it->second;
    return j;
  }
  return std::nullopt;
}

template <typename State>
State* OrderBook<State>::FindOrCreateLocked(const std::string& id) {
  auto it = orders_.find(id);
  if (it != orders_.end()) return &it->second;
  for (const Template& t : templates_) {
    if (!absl::StartsWith(id, t.prefix)) continue;
    nlohmann::json j = t.order;
    j[format_.id_key] = id;
    absl::StatusOr<Spec> spec = hooks_.parse(j);
    if (!spec.ok()) return nullptr;  // validated at load; only an odd id gets here
    return InsertLocked(id, NewState(*std::move(spec), absl::Now()));
  }
  return nullptr;
}

template <typename State>
std::optional<typename OrderBook<State>::Ticket> OrderBook<State>::Admit(
    const std::string& id, const std::string& merchant,
    const std::function<bool(const State*)>& accept) {
  std::lock_guard<std::mutex> lock(mu_);
  const State* order = FindOrCreateLocked(id);
  if (!accept(order) || order == nullptr) return std::nullopt;
  Ticket ticket(this, id, merchant);
  const uint64_t n = counters_.Verified(id);
  auto roll = [this] { return std::uniform_real_distribution<double>(0, 100)(rng_); };
  const FaultSpec* f = PickFault(order->spec.script.faults, n, roll);
  if (f == nullptr) f = PickFault(default_faults_, n, roll);
  if (f != nullptr) ticket.fault = *f;
  ticket.latency_ms = order->spec.script.latency_ms + default_latency_ms_;
  counters_.Enter(id, merchant);
  return std::optional<Ticket>(std::move(ticket));
}

template <typename State>
bool OrderBook<State>::Answer(const std::string& id,
                              const std::function<void(const State&)>& reply) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = orders_.find(id);
  if (it == orders_.end()) return false;
  State& o = it->second;
  const absl::Time now = absl::Now();
  AdvanceByTime(o, now);
  reply(o);
  ++o.answered_in_state;
  AdvanceByQueries(o, now);
  counters_.CountAnswered(id);
  return true;
}

template <typename State>
bool OrderBook<State>::Change(
    const std::string& id,
    const std::function<std::optional<nlohmann::json>(const State&)>& decide) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = orders_.find(id);
  if (it == orders_.end()) return false;
  State& o = it->second;
  const absl::Time now = absl::Now();
  AdvanceByTime(o, now);
  std::optional<nlohmann::json> to = decide(o);
  if (!to.has_value()) return true;
  o.next_transition = o.spec.script.transitions.size();
  o.state_since = now;
  o.answered_in_state = 0;
  o.Enter(*to, now);
  Entered(o);
  return true;
}

template <typename State>
std::optional<nlohmann::json> OrderBook<State>::Peek(
    const std::string& id, const std::function<nlohmann::json(const State&)>& read) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = orders_.find(id);
  if (it == orders_.end()) return std::nullopt;
  AdvanceByTime(it->second, absl::Now());
  return read(it->second);
}

template <typename State>
void OrderBook<State>::AdvanceWatched() {
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = absl::Now();
  for (const std::string& id : watched_) {
    auto it = orders_.find(id);
    if (it != orders_.end()) AdvanceByTime(it->second, now);
  }
}

// A module whose orders are an OrderBook: scenario, reset and stats are the book's. The module
// registers its upstream routes and calls book_.RegisterControlRoutes in RegisterRoutes.
template <typename State>
class OrderBookModule : public SandboxModule {
 public:
  absl::Status LoadScenario(const nlohmann::json& scenario) override {
    return book_.LoadScenario(scenario);
  }
  void Reset(bool keep_orders) override { book_.Reset(keep_orders); }
  nlohmann::json Stats() const override { return book_.Stats(); }
  std::optional<nlohmann::json> StatsFor(const httplib::Params& params) const override {
    return book_.StatsFor(params);
  }

 protected:
  OrderBookModule(OrderFormat format, nlohmann::json builtin_order,
                  typename OrderBook<State>::Hooks hooks, uint64_t rng_seed)
      : book_(std::move(format), std::move(builtin_order), std::move(hooks), rng_seed) {}

  OrderBook<State> book_;
};

}  // namespace orderquery::sandbox

#endif  // ORDERQUERY_TESTS_FAKES_SANDBOX_ORDER_BOOK_H_
