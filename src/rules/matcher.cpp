// rules/matcher.cpp — one message against a RuleSet: a Hyperscan stream per whole-message
// scope, fed as the content arrives, a block scan per item of the per-item scopes, then
// composites.
#include <algorithm>
#include <exception>
#include <set>

#include "internal.h"
#include "mailwarden/base/ascii.h"
#include "mailwarden/message/decode.h"
#include "mailwarden/message/text.h"

namespace mw::rules {
namespace {

// Bounds of our own work per message (message::Limits bounds what the parser keeps).
constexpr std::size_t kMaxUrls = 1000;
constexpr std::size_t kMaxItems = 10000;  // header fields, attachments, recipients matched

struct StreamClose {
  void operator()(hs_stream_t* s) const noexcept {
    // hs_runtime.h: every opened stream must be closed; with no callback a NULL scratch
    // is allowed, which is what an aborted message needs.
    if (s != nullptr) static_cast<void>(hs_close_stream(s, nullptr, nullptr, nullptr));
  }
};
using HsStream = std::unique_ptr<hs_stream_t, StreamClose>;

}  // namespace

// The MimeSink (attachment scopes, from partBegin) and the TextListener (body:text and
// url, from the message's one message::TextExtractor) of one message.
struct Matcher::State final : message::MimeSink, message::TextListener {
  RuleSetConstSharedPtr set;
  const RuleSet::Impl* impl = nullptr;
  std::vector<bool> hits;
  // The rules that hit, in the order they hit: conclude() walks these (sorted) instead
  // of every rule of the set, which with 10,000 rules and a handful of hits per message
  // was a visible share of a message's matching time.
  std::vector<int> hit_list;
  std::optional<std::string> failure;
  std::array<HsStream, kScopeCount> open;   // the whole-message streams
  std::array<message::Utf8Stream, kScopeCount> utf8;
  std::string_view current_header;          // Scope::Header: the field being scanned
  std::size_t items = 0;
  std::size_t header_bytes = 0;
  std::size_t max_header_bytes = 0;
  bool finished = false;
  bool concluded = false;
  // url: each distinct URL is matched once, the first kMaxUrls of the message.
  std::set<std::string> urls_seen;
  std::string buf;
  // The header block for Scope::Headers, scanned in one call when the body starts (or at
  // finish()): a stream scan has a fixed cost (loading and saving the stream state,
  // several KB with thousands of rules) that one call per field paid about 13 times a
  // message. Bounded by max_header_bytes like the fields themselves.
  std::string header_block;
  HsScratch borrowed;

  void flushHeaders() {
    if (header_block.empty()) return;
    feed(Scope::Headers, header_block);
    header_block.clear();
  }

  bool has(Scope s) const { return static_cast<bool>(impl->scopes[static_cast<std::size_t>(s)].db); }
  const ScopeDb& db(Scope s) const { return impl->scopes[static_cast<std::size_t>(s)]; }

  // An exception thrown in the match callback must not unwind through Hyperscan (C):
  // the callback keeps it here and stops the scan; the caller rethrows it once Hyperscan
  // has returned (rethrowPending).
  std::exception_ptr pending;

  void rethrowPending() {
    if (pending) {
      std::exception_ptr e = std::move(pending);
      pending = nullptr;
      std::rethrow_exception(e);
    }
  }

  static int onMatch(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                     void* ctx) noexcept {
    auto* st = static_cast<std::pair<State*, Scope>*>(ctx);
    try {
      return st->first->match(id, from, to, flags, st->second);
    } catch (...) {
      st->first->pending = std::current_exception();
      return 1;  // stop: hs_scan* returns HS_SCAN_TERMINATED
    }
  }

  int match(unsigned id, unsigned long long, unsigned long long, unsigned, Scope scope) {
    const ScopeDb& d = db(scope);
    if (id >= d.ids.size()) return 0;
    const int rule = d.ids[id];
    const Rule& r = impl->rules[static_cast<std::size_t>(rule)];
    if (scope == Scope::Header && !ascii::iequals(r.header_name, current_header)) {
      return 0;  // one database for all header:NAME rules: only this field's rules count
    }
    if (!hits[static_cast<std::size_t>(rule)]) {
      hits[static_cast<std::size_t>(rule)] = true;
      hit_list.push_back(rule);  // reserved for every rule: does not allocate
    }
    return 0;  // continue: other rules may match in the same stream
  }

  // Borrowed from the RuleSet's pool at the first scan, given back by ~State.
  hs_scratch_t* scratch() {
    if (!borrowed) borrowed = impl->scratch.take(impl->scopes);
    if (!borrowed && !failure) failure = "rules: cannot allocate Hyperscan scratch";
    return borrowed.get();
  }

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() override {
    // Streams first (closing needs no scratch without a callback), then the scratch
    // goes back while `set` still keeps its pool alive.
    for (HsStream& s : open) s.reset();
    if (borrowed) impl->scratch.give(std::move(borrowed));
  }

  // Feeds `data` to `stream` (Hyperscan takes unsigned int lengths: split bigger input).
  void scan(hs_stream_t* stream, Scope scope, std::string_view data) {
    if (stream == nullptr || data.empty()) return;
    hs_scratch_t* s = scratch();
    if (s == nullptr) return;
    std::pair<State*, Scope> ctx{this, scope};
    constexpr std::size_t kMaxPiece = 1u << 30;
    while (!data.empty()) {
      const std::string_view piece = data.substr(0, kMaxPiece);
      const hs_error_t rc = hs_scan_stream(stream, piece.data(), static_cast<unsigned>(piece.size()), 0, s, &State::onMatch, &ctx);
      rethrowPending();
      if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED && !failure) {
        failure = "rules: Hyperscan scan error " + std::to_string(rc);
      }
      data.remove_prefix(piece.size());
    }
  }

  void close(HsStream& stream, Scope scope) {
    if (!stream) return;
    hs_scratch_t* s = scratch();
    std::pair<State*, Scope> ctx{this, scope};
    // Closing with a callback reports end-anchored ($) matches.
    if (s != nullptr) {
      static_cast<void>(hs_close_stream(stream.release(), s, &State::onMatch, &ctx));
      rethrowPending();
    } else {
      stream.reset();
    }
  }

  HsStream openStream(Scope scope) {
    hs_stream_t* st = nullptr;
    if (hs_open_stream(db(scope).db.get(), 0, &st) != HS_SUCCESS) {
      if (!failure) failure = "rules: cannot open a Hyperscan stream";
      return nullptr;
    }
    return HsStream(st);
  }

  // Whole-message scopes: the stream opens with the first data.
  void feed(Scope scope, std::string_view data) {
    if (!has(scope) || data.empty()) return;
    HsStream& st = open[static_cast<std::size_t>(scope)];
    if (!st) st = openStream(scope);
    if (db(scope).utf8) {
      buf.clear();
      utf8[static_cast<std::size_t>(scope)].feed(data, buf);
      scan(st.get(), scope, buf);
    } else {
      scan(st.get(), scope, data);
    }
  }

  void endScope(Scope scope) {
    HsStream& st = open[static_cast<std::size_t>(scope)];
    if (st && db(scope).utf8) {
      buf.clear();
      utf8[static_cast<std::size_t>(scope)].finish(buf);
      scan(st.get(), scope, buf);
    }
    close(st, scope);
  }

  // Per-item scopes: one block scan per item, so ^ and $ anchor at the item's ends
  // (their databases are block-mode: internal.h isPerItem).
  void item(Scope scope, std::string_view text) {
    if (!has(scope) || items >= kMaxItems) return;
    ++items;
    std::string clean;
    if (db(scope).utf8) {
      message::Utf8Stream u;
      u.feed(text, clean);
      u.finish(clean);
      text = clean;
    }
    hs_scratch_t* s = scratch();
    if (s == nullptr) return;
    // Items are bounded by the parser's limits (a header field, a URL), far below
    // Hyperscan's unsigned length; a longer one is cut rather than wrapped.
    const auto len = static_cast<unsigned>(std::min<std::size_t>(text.size(), 1u << 30));
    std::pair<State*, Scope> ctx{this, scope};
    const hs_error_t rc = hs_scan(db(scope).db.get(), text.data(), len, 0, s, &State::onMatch, &ctx);
    rethrowPending();
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED && !failure) {
      failure = "rules: Hyperscan scan error " + std::to_string(rc);
    }
  }

  // TextListener
  void text(std::string_view text) override { feed(Scope::BodyText, text); }
  void url(std::string_view url) override {
    if (!has(Scope::Url) || urls_seen.size() >= kMaxUrls) return;
    if (urls_seen.emplace(url).second) item(Scope::Url, url);
  }

  // MimeSink
  void partBegin(const message::PartInfo& p) override {
    if (p.is_multipart) return;
    if (!p.filename.empty()) item(Scope::AttachmentName, p.filename);
    if (!p.content_type.starts_with("text/") && !p.content_type.starts_with("multipart/")) {
      item(Scope::AttachmentType, p.content_type);
    }
  }
  void partHeader(const message::PartInfo&, const message::HeaderField&) override {}
  void partData(const message::PartInfo&, std::string_view) override {}
  void partEnd(const message::PartInfo&) override {}
};

Matcher::Matcher(RuleSetConstSharedPtr rules, const message::Limits& limits) : s_(std::make_unique<State>()) {
  s_->set = std::move(rules);
  s_->impl = &s_->set->impl();
  s_->hits.assign(s_->impl->rules.size(), false);
  s_->hit_list.reserve(s_->impl->rules.size());  // each rule enters it at most once
  s_->max_header_bytes = limits.max_header_bytes;
}

Matcher::~Matcher() = default;  // HsStream closes whatever is still open (abort)

message::MimeSink& Matcher::mimeSink() noexcept { return *s_; }

message::TextListener& Matcher::textListener() noexcept { return *s_; }

bool Matcher::wantsText() const noexcept { return s_->has(Scope::BodyText); }

bool Matcher::wantsUrls() const noexcept { return s_->has(Scope::Url); }

void Matcher::envelope(const message::Envelope& env) {
  s_->item(Scope::EnvMailFrom, env.mail_from);
  s_->item(Scope::EnvHelo, env.helo);
  s_->item(Scope::EnvClientName, env.client_name);
  for (const std::string& r : env.rcpts) s_->item(Scope::EnvRcpt, r);
}

void Matcher::header(const message::HeaderField& field) {
  State& s = *s_;
  // Stages see every received field (stage.h); our work is bounded like the HeaderList.
  s.header_bytes += field.name.size() + field.value.size() + 4;
  if (s.header_bytes > s.max_header_bytes) return;
  if (s.has(Scope::Headers)) {
    std::string& block = s.header_block;
    block += field.name;
    block += ':';
    if (field.value.empty() || (field.value[0] != ' ' && field.value[0] != '\t')) block += ' ';
    block += field.value;
    block += "\r\n";
  }
  if (s.has(Scope::Header)) {
    const std::string name = ascii::lower(field.name);
    if (std::binary_search(s.impl->header_names.begin(), s.impl->header_names.end(), name)) {
      message::Defects ignored;
      const std::string value = message::decodeHeaderValue(message::unfold(field.value), ignored);
      s.current_header = name;
      s.item(Scope::Header, value);
      s.current_header = {};
    }
  }
}

void Matcher::body(std::string_view raw_chunk) {
  s_->flushHeaders();  // the body follows the header section (RFC 5322 §2.1)
  s_->feed(Scope::BodyRaw, raw_chunk);
}

void Matcher::finish() {
  if (s_->finished) return;
  s_->finished = true;
  s_->flushHeaders();
  for (std::size_t i = 0; i < kScopeCount; ++i) s_->endScope(static_cast<Scope>(i));
}

std::vector<Hit> Matcher::conclude(const std::vector<std::string>& symbols) {
  State& s = *s_;
  std::vector<Hit> out;
  if (s.concluded) return out;
  finish();
  s.concluded = true;
  std::vector<bool> truth(s.impl->symbols.size(), false);
  for (const std::string& name : symbols) {
    auto it = s.impl->symbol_index.find(name);
    if (it != s.impl->symbol_index.end()) truth[static_cast<std::size_t>(it->second)] = true;
  }
  // Composites in dependency order (loader.cpp), so a composite's components are final.
  for (const int c : s.impl->composites) {
    const Expr& e = s.impl->exprs[static_cast<std::size_t>(c)];
    std::vector<char> val(e.nodes.size(), 0);
    // Nodes are created children-first (expr.cpp), so one forward pass evaluates them.
    for (std::size_t i = 0; i < e.nodes.size(); ++i) {
      const Expr::Node& n = e.nodes[i];
      auto at = [&](int k) { return k >= 0 && val[static_cast<std::size_t>(k)] != 0; };
      switch (n.kind) {
        case Expr::Kind::Leaf:
          val[i] = n.rule >= 0 ? s.hits[static_cast<std::size_t>(n.rule)]
                               : (n.symbol >= 0 && truth[static_cast<std::size_t>(n.symbol)]);
          break;
        case Expr::Kind::Not: val[i] = !at(n.a); break;
        case Expr::Kind::And: val[i] = at(n.a) && at(n.b); break;
        case Expr::Kind::Or: val[i] = at(n.a) || at(n.b); break;
      }
    }
    const bool hit = e.root >= 0 && val[static_cast<std::size_t>(e.root)] != 0;
    if (hit && !s.hits[static_cast<std::size_t>(c)]) s.hit_list.push_back(c);
    s.hits[static_cast<std::size_t>(c)] = hit;
  }
  // Contributions in rule order, as the rule files list them (a composite may have been
  // listed before a pattern rule; hit_list has each index once).
  std::sort(s.hit_list.begin(), s.hit_list.end());
  for (const int i : s.hit_list) {
    if (!s.hits[static_cast<std::size_t>(i)]) continue;
    const Rule& r = s.impl->rules[static_cast<std::size_t>(i)];
    // A rule with score 0 and no action is a building block (HAS_DATE for "not
    // HAS_DATE"): its hit feeds composites and `rules test`, but listing it would put a
    // dozen "=0.00" entries into every message's X-Mailwarden-Rules.
    if (r.action || r.score.value_or(0.0) != 0.0) {
      out.push_back(Hit{r.id, r.score.value_or(0.0), r.action, r.reply});
    }
  }
  return out;
}

bool Matcher::hit(std::string_view id) const noexcept {
  const int i = s_->set->find(id);
  return i >= 0 && s_->hits[static_cast<std::size_t>(i)];
}

const std::optional<std::string>& Matcher::failure() const noexcept { return s_->failure; }

}  // namespace mw::rules
