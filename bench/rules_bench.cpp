// bench/rules_bench.cpp — the content-rules matcher against one-regex-at-a-time matching
// (`make bench`; results and method in doc/PERFORMANCE.md).
//
// Benchmarks, in one run so the numbers are comparable:
//   BM_RulesMatcher/N   rules::Matcher over a RuleSet of N generated rules: every message
//                       of the corpus fed as the milter feeds it (envelope, header fields,
//                       body in 64 KiB chunks through the MIME parser), then finish() and
//                       conclude(). Includes MIME parsing and base64/QP decoding.
//   BM_Pcre2Loop/N      the same N rules compiled one by one with PCRE2 (JIT), each run
//                       over its scope's text of each message, as milter-regex and
//                       SpamAssassin do. Gets the scope texts ready-made (the header block,
//                       the raw body, the decoded text): no parsing or decoding is timed,
//                       which favours it.
//   BM_HyperscanOnly/N  the other floor: the same N patterns compiled straight with
//                       hs_compile_multi and streamed over each scope's ready-made text, no
//                       code of ours. What any Hyperscan-based filter pays at N rules.
//   BM_MimeParseOnly    the floor under BM_RulesMatcher: MIME parsing and decoding alone.
// N = 10, 100, 1000, 10000. All report bytes/s over the corpus's message bytes in CPU
// time (one thread: MB/s per core) and counters: hits per pass (the two engines should
// agree), compile_s (CPU seconds to build the N rules: YAML load + Hyperscan compile, or
// pcre2_compile + pcre2_jit_compile), db_bytes (hs_database_size over every scope
// database), stream_bytes (hs_stream_size summed: Hyperscan state per message, one
// stream per scope database) and pcre2_bytes (pcre2_pattern_info SIZE + JITSIZE).
//
// The corpus is generated in-process from a fixed seed (SplitMix64, so every platform
// builds the same bytes): text/plain, multipart/alternative with quoted-printable HTML,
// and multipart/mixed messages with base64 attachments, 2 KB to 600 KB, 5.7 MB in all.
// Rules are generated from the same seed: literal words, alternations, character
// classes, anchored (multiline) and unanchored patterns, with and without caseless,
// spread over body:text, body:raw and headers; most are tokens that never occur (a rule
// set mostly misses), some are words of the corpus (some hit).
//
// Profiling knobs (environment): MW_RULES_BENCH_SCOPE puts every rule in one scope,
// MW_RULES_BENCH_SHAPE=0..5 generates one pattern shape only, MW_RULES_BENCH_NOCASE=1 makes
// every rule case-sensitive, MW_RULES_BENCH_MIN_TIME=S runs each benchmark S seconds,
// MW_RULES_BENCH_CACHE=DIR loads the databases from the rules cache.
//
// Reads rules::RuleSet::Impl (src/rules/internal.h) for the database sizes: this
// program is a measurement of rules/ internals, like its unit tests.
#include <benchmark/benchmark.h>

#include <time.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "mailwarden/message/envelope.h"
#include "mailwarden/message/header.h"
#include "mailwarden/message/limits.h"
#include "mailwarden/message/mime.h"
#include "mailwarden/message/text.h"
#include "mailwarden/rules/rules.h"
#include "src/rules/internal.h"

#ifdef MW_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

namespace {

namespace message = mw::message;
namespace rules = mw::rules;

constexpr std::uint64_t kSeed = 0x6d61696c77617264ULL;  // "mailward"
constexpr std::size_t kMessages = 40;
constexpr std::size_t kChunk = 64 * 1024;  // Postfix hands the milter up to 64 KiB per call
// MW_RULES_BENCH_MIN_TIME=S: seconds per benchmark instead of 1 (profiling under perf).
const double kMinTimeSeconds =
    std::getenv("MW_RULES_BENCH_MIN_TIME") != nullptr ? std::atof(std::getenv("MW_RULES_BENCH_MIN_TIME")) : 1.0;

// SplitMix64: tiny, and its output does not depend on the standard library.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  std::size_t between(std::size_t lo, std::size_t hi) { return lo + below(hi - lo + 1); }

 private:
  std::uint64_t s_;
};

// Words of ordinary business mail; the corpus is made of them, and some rules use them.
constexpr std::array<std::string_view, 96> kWords = {
    "the", "and", "for", "with", "this", "that", "from", "your", "have", "will", "please",
    "meeting", "report", "invoice", "project", "schedule", "attached", "review", "update",
    "team", "thanks", "regards", "tomorrow", "monday", "friday", "office", "budget",
    "quarter", "customer", "order", "delivery", "payment", "contract", "draft", "version",
    "document", "comments", "question", "answer", "agenda", "minutes", "call", "phone",
    "email", "account", "service", "support", "ticket", "issue", "release", "server",
    "database", "backup", "network", "security", "password", "training", "holiday",
    "travel", "hotel", "flight", "conference", "presentation", "slides", "numbers",
    "sales", "marketing", "product", "price", "offer", "discount", "newsletter",
    "subscribe", "event", "webinar", "register", "today", "week", "month", "year",
    "manager", "director", "colleague", "partner", "supplier", "shipment", "warehouse",
    "stock", "forecast", "analysis", "results", "summary", "feedback", "survey",
    "approval", "signature"};

std::string word(Rng& rng) { return std::string(kWords[rng.below(kWords.size())]); }

// A token that does not occur in the corpus: 6 to 10 random letters. (No common prefix:
// thousands of literals sharing their first bytes are not what real rule sets look
// like, and they would turn every occurrence of the prefix into thousands of checks.)
std::string rareToken(Rng& rng) {
  std::string t;
  const std::size_t n = rng.between(6, 10);
  for (std::size_t i = 0; i < n; ++i) t += static_cast<char>('a' + rng.below(26));
  return t;
}

// Text of about `bytes` bytes: sentences of corpus words, lines of at most 76 bytes.
std::string prose(Rng& rng, std::size_t bytes) {
  std::string out;
  std::size_t line = 0;
  bool cap = true;
  while (out.size() < bytes) {
    std::string w = word(rng);
    if (cap) w[0] = static_cast<char>(w[0] - 'a' + 'A');
    cap = false;
    if (line + w.size() + 1 > 76) {
      out += "\r\n";
      line = 0;
    } else if (line > 0) {
      out += ' ';
      ++line;
    }
    out += w;
    line += w.size();
    if (rng.below(10) == 0) {
      out += '.';
      ++line;
      cap = true;
      if (rng.below(4) == 0) {
        out += "\r\n\r\n";
        line = 0;
      }
    }
  }
  out += "\r\n";
  return out;
}

// RFC 2045 §6.7 quoted-printable: '=' and non-printable bytes encoded, soft breaks at 76.
std::string quotedPrintable(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') {
      out += "\r\n";
      ++i;
      line = 0;
      continue;
    }
    std::string enc;
    if (c == '=' || c < 32 || c > 126) {
      enc = {'=', kHex[c >> 4], kHex[c & 15]};
    } else {
      enc = std::string(1, static_cast<char>(c));
    }
    if (line + enc.size() > 75) {
      out += "=\r\n";
      line = 0;
    }
    out += enc;
    line += enc.size();
  }
  return out;
}

// RFC 2045 §6.8 base64, 76-character lines.
std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t line = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
    line += 4;
    if (line >= 76) {
      out += "\r\n";
      line = 0;
    }
  }
  if (line > 0) out += "\r\n";
  return out;
}

std::string randomBytes(Rng& rng, std::size_t n) {
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng.next();
    for (std::size_t k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<char>(v >> (8 * k));
  }
  return out;
}

struct Message {
  std::vector<message::HeaderField> fields;  // values as after the colon (leading space)
  std::string header_block;                  // "Name: value\r\n" each: the headers scope
  std::string body;                          // as transmitted
  std::string text;                          // what body:text holds (for the PCRE2 loop)
  message::Envelope envelope;
  std::size_t bytes() const { return header_block.size() + 2 + body.size(); }
};

void addField(Message& m, std::string name, std::string value) {
  m.header_block += name + ":" + value + "\r\n";
  m.fields.push_back(message::HeaderField{std::move(name), std::move(value)});
}

// An HTML rendering of `text`'s paragraphs, with links, styles and markup around them;
// `visible` gets the words a reader sees (the text and the link texts).
std::string htmlOf(Rng& rng, std::string_view text, std::string& visible) {
  std::string html =
      "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\"><style>p{margin:0 0 8px 0;"
      "font-family:Arial,sans-serif}</style></head>\r\n<body>\r\n<p>";
  for (char c : text) {
    if (c == '\n') {
      html += "\n";
      visible += "\n";
      if (rng.below(6) == 0) {
        const std::string w = word(rng);
        html += "</p>\r\n<p style=\"color:#333333\"><a href=\"https://www.shop-" +
                std::to_string(rng.below(50)) + ".example/p/" + std::to_string(rng.below(100000)) +
                "?utm_source=newsletter\">" + w + "</a> ";
        visible += w + " ";
      }
    } else if (c != '\r') {
      html += c;
      visible += c;
    }
  }
  html += "</p>\r\n</body></html>\r\n";
  return html;
}

Message makeMessage(Rng& rng, std::size_t index) {
  Message m;
  const std::string domain = "sender" + std::to_string(index % 13) + ".example";
  m.envelope.client_ip = "192.0.2." + std::to_string(1 + index % 250);
  m.envelope.client_name = "mx" + std::to_string(index % 3) + "." + domain;
  m.envelope.helo = m.envelope.client_name;
  m.envelope.mail_from = "bounce-" + std::to_string(index) + "@" + domain;
  m.envelope.rcpts = {"user" + std::to_string(index % 7) + "@dest.example"};
  m.envelope.queue_id = "NOQUEUE";

  addField(m, "Received", " from " + m.envelope.client_name + " (" + m.envelope.client_name + " [" +
                              m.envelope.client_ip + "])\r\n\tby mx.dest.example (Postfix) with ESMTPS id 4Q" +
                              std::to_string(100000 + index) + "\r\n\tfor <" + m.envelope.rcpts[0] +
                              ">; Mon, 2 Mar 2026 10:00:00 +0000 (UTC)");
  addField(m, "Received", " from app" + std::to_string(index % 5) + ".internal." + domain +
                              " (unknown [10.0.0." + std::to_string(index % 200) + "])\r\n\tby " +
                              m.envelope.client_name + " (Postfix) with ESMTP; Mon, 2 Mar 2026 09:59:58 +0000");
  addField(m, "DKIM-Signature", " v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + domain +
                                    "; s=mail;\r\n\th=from:to:subject:date:message-id:mime-version;\r\n\tbh=" +
                                    base64(randomBytes(rng, 32)).substr(0, 44) + ";\r\n\tb=" +
                                    base64(randomBytes(rng, 128)).substr(0, 76) + "\r\n\t " +
                                    base64(randomBytes(rng, 128)).substr(0, 96));
  addField(m, "From", " \"" + word(rng) + " " + word(rng) + "\" <news@" + domain + ">");
  addField(m, "To", " <" + m.envelope.rcpts[0] + ">");
  addField(m, "Subject", " " + word(rng) + " " + word(rng) + " " + word(rng) + " " + word(rng));
  addField(m, "Date", " Mon, 02 Mar 2026 10:00:" + std::to_string(10 + index % 50) + " +0000");
  addField(m, "Message-ID", " <" + std::to_string(rng.next()) + "." + std::to_string(index) + "@" + domain + ">");
  addField(m, "MIME-Version", " 1.0");
  if (index % 2 == 0) {
    addField(m, "List-Unsubscribe", " <https://" + domain + "/unsubscribe?u=" + std::to_string(rng.next()) + ">");
  }
  addField(m, "X-Mailer", " bench-mailer 1." + std::to_string(index % 9));

  const std::string text = prose(rng, rng.between(1500, 6000));
  const std::string boundary = "=_b" + std::to_string(rng.next());
  switch (index % 4) {
    case 0:  // text/plain only
      addField(m, "Content-Type", " text/plain; charset=utf-8");
      addField(m, "Content-Transfer-Encoding", " 7bit");
      m.body = text;
      m.text = text;
      break;
    case 1: {  // multipart/alternative: text and quoted-printable HTML
      addField(m, "Content-Type", " multipart/alternative; boundary=\"" + boundary + "\"");
      std::string visible;
      const std::string html = htmlOf(rng, text, visible);
      m.body = "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "--" +
               boundary + "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: " +
               "quoted-printable\r\n\r\n" + quotedPrintable(html) + "--" + boundary + "--\r\n";
      m.text = text + "\n" + visible;
      break;
    }
    default: {  // multipart/mixed: text and one or two base64 attachments
      addField(m, "Content-Type", " multipart/mixed; boundary=\"" + boundary + "\"");
      m.body = "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text;
      m.text = text;
      const std::size_t attachments = index % 4 == 2 ? 1 : 2;
      for (std::size_t a = 0; a < attachments; ++a) {
        const bool pdf = (index + a) % 2 == 0;
        const std::size_t size = rng.between(20 * 1024, 220 * 1024);
        std::string data = (pdf ? std::string("%PDF-1.7\n") : std::string("\x89PNG\r\n\x1a\n")) + randomBytes(rng, size);
        const std::string name = word(rng) + "-" + std::to_string(index) + (pdf ? ".pdf" : ".png");
        m.body += "--" + boundary + "\r\nContent-Type: " + (pdf ? "application/pdf" : "image/png") +
                  "; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name +
                  "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64(data);
      }
      m.body += "--" + boundary + "--\r\n";
      break;
    }
  }
  return m;
}

const std::vector<Message>& corpus() {
  static const std::vector<Message> messages = [] {
    Rng rng(kSeed);
    std::vector<Message> out;
    for (std::size_t i = 0; i < kMessages; ++i) out.push_back(makeMessage(rng, i));
    return out;
  }();
  return messages;
}

std::size_t corpusBytes() {
  std::size_t n = 0;
  for (const Message& m : corpus()) n += m.bytes();
  return n;
}

// ------------------------------------------------------------------------ rules

enum class BenchScope { BodyText, BodyRaw, Headers };
constexpr std::array<std::string_view, 3> kScopeNames = {"body:text", "body:raw", "headers"};

struct GenRule {
  std::string id;
  BenchScope scope;
  std::string pattern;
  bool caseless;
  bool multiline;
};

// One in 20 rules is built from corpus words (it may hit); the rest from rare tokens.
std::string term(Rng& rng) { return rng.below(20) == 0 ? word(rng) : rareToken(rng); }

// MW_RULES_BENCH_SCOPE=body:text|body:raw|headers puts every generated rule into that
// scope (profiling: which scope's database costs what); by default they rotate.
std::optional<BenchScope> onlyScope() {
  const char* env = std::getenv("MW_RULES_BENCH_SCOPE");
  if (env == nullptr) return std::nullopt;
  for (std::size_t i = 0; i < kScopeNames.size(); ++i) {
    if (kScopeNames[i] == env) return static_cast<BenchScope>(i);
  }
  std::fprintf(stderr, "rules_bench: MW_RULES_BENCH_SCOPE must be body:text, body:raw or headers\n");
  std::exit(1);
}

// MW_RULES_BENCH_SHAPE=0..5 generates only that pattern shape (profiling: which shape
// costs what); by default each rule draws one.
std::optional<std::uint64_t> onlyShape() {
  const char* env = std::getenv("MW_RULES_BENCH_SHAPE");
  if (env == nullptr) return std::nullopt;
  if (env[0] < '0' || env[0] > '5' || env[1] != '\0') {
    std::fprintf(stderr, "rules_bench: MW_RULES_BENCH_SHAPE must be 0 to 5\n");
    std::exit(1);
  }
  return static_cast<std::uint64_t>(env[0] - '0');
}

std::vector<GenRule> generateRules(std::size_t n) {
  const std::optional<BenchScope> only = onlyScope();
  const std::optional<std::uint64_t> shape = onlyShape();
  Rng rng(kSeed ^ n);
  std::vector<GenRule> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    GenRule r;
    r.id = "GEN_" + std::to_string(i);
    r.scope = only ? *only : static_cast<BenchScope>(i % 3);
    r.caseless = rng.below(2) == 0 && std::getenv("MW_RULES_BENCH_NOCASE") == nullptr;
    r.multiline = false;
    const std::uint64_t drawn = rng.below(6);
    switch (shape ? *shape : drawn) {
      case 0:  // a literal word
        r.pattern = "\\b" + term(rng) + "\\b";
        break;
      case 1:  // an alternation, then a word
        r.pattern = "\\b(?:" + term(rng) + "|" + term(rng) + "|" + term(rng) + ")\\s+" + term(rng);
        break;
      case 2:  // character classes around a token
        r.pattern = term(rng) + "[-_ ]?[0-9]{2,4}[a-f]*";
        break;
      case 3:  // anchored at a line start
        r.multiline = true;
        r.pattern = r.scope == BenchScope::Headers ? "^X-" + term(rng) + ":" : "^" + term(rng) + "\\s";
        break;
      case 4:  // two words with a bounded gap
        r.pattern = term(rng) + ".{0,30}\\b" + term(rng) + "\\b";
        break;
      default:  // a two-word phrase
        r.pattern = term(rng) + "\\s+" + term(rng);
        break;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string rulesYaml(const std::vector<GenRule>& gen) {
  std::string y = "rules:\n";
  for (const GenRule& r : gen) {
    y += "  - id: " + r.id + "\n    description: \"generated benchmark rule\"\n    scope: " +
         std::string(kScopeNames[static_cast<int>(r.scope)]) + "\n    pattern: '" + r.pattern + "'\n";
    if (r.caseless || r.multiline) {
      y += "    flags: [";
      y += r.caseless ? "caseless" : "";
      y += r.caseless && r.multiline ? ", " : "";
      y += r.multiline ? "multiline" : "";
      y += "]\n";
    }
    y += "    score: 0.1\n";
  }
  return y;
}

// This process's CPU time in seconds: compiling is single-threaded, and on a shared
// machine the wall clock measures the neighbours too.
double cpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// ------------------------------------------------------------- engine A: our matcher

struct HsSet {
  rules::RuleSetConstSharedPtr set;
  double compile_s = 0;
  std::size_t db_bytes = 0;
  std::size_t stream_bytes = 0;  // one open stream per scope database: state per message
  std::size_t from_cache = 0;    // databases read from MW_RULES_BENCH_CACHE
};

const HsSet& hsSet(std::size_t n) {
  static std::map<std::size_t, HsSet> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return it->second;
  HsSet s;
  const std::string yaml = rulesYaml(generateRules(n));
  // MW_RULES_BENCH_CACHE=DIR: the rule loader's database cache, for repeated runs
  // (profiling); compile_s then measures a cached load, and from_cache says so.
  const char* cache_dir = std::getenv("MW_RULES_BENCH_CACHE");
  const double t0 = cpuSeconds();
  rules::LoadReport report = rules::loadText(yaml, "bench-rules.yaml", /*symbols=*/{},
                                             cache_dir != nullptr ? cache_dir : "");
  s.compile_s = cpuSeconds() - t0;
  s.from_cache = report.stats.from_cache;
  if (!report.ok()) {
    std::fprintf(stderr, "rules_bench: generated rules do not load: %s\n", report.errors.front().message.c_str());
    std::exit(1);
  }
  s.set = report.rules;
  for (const rules::ScopeDb& db : s.set->impl().scopes) {
    std::size_t size = 0;
    if (db.db && hs_database_size(db.db.get(), &size) == HS_SUCCESS) s.db_bytes += size;
    if (db.db && hs_stream_size(db.db.get(), &size) == HS_SUCCESS) s.stream_bytes += size;
  }
  return cache.emplace(n, std::move(s)).first->second;
}

// One MIME parser for a Matcher, wired as Snapshot::makeStages wires the MIME and rules
// stages: the Matcher's MIME sink, and its text listener through one TextExtractor.
struct MatcherParser {
  message::TextExtractor text;
  message::MimeFanout fanout;  // before the parser, which points at it
  message::MimeParser parser;
  MatcherParser(rules::Matcher& m, const message::Limits& limits) : parser(limits, &fanout) {
    fanout.add(m.mimeSink());
    text.subscribe(m.textListener(), m.wantsText(), m.wantsUrls());
    if (text.wanted()) fanout.add(text);
  }
};

// One message through a Matcher, fed as scan/ feeds it. Returns the number of hits.
std::size_t matchOne(const rules::RuleSetConstSharedPtr& set, const message::Limits& limits, const Message& m) {
  rules::Matcher matcher(set, limits);
  MatcherParser wired(matcher, limits);
  message::MimeParser& parser = wired.parser;
  for (const message::HeaderField& f : m.fields) {
    matcher.header(f);
    parser.header(f);
  }
  parser.endOfHeaders();
  matcher.envelope(m.envelope);
  std::string_view body = m.body;
  for (std::size_t off = 0; off < body.size(); off += kChunk) {
    const std::string_view chunk = body.substr(off, kChunk);
    matcher.body(chunk);
    parser.body(chunk);
  }
  parser.finish();
  matcher.finish();
  return matcher.conclude({}).size();
}

#ifdef MW_HAVE_PCRE2
// The ids of the rules that hit one message (for MW_RULES_BENCH_DIFF).
std::vector<std::string> hitIds(const rules::RuleSetConstSharedPtr& set, const Message& m) {
  const message::Limits limits;
  rules::Matcher matcher(set, limits);
  MatcherParser wired(matcher, limits);
  message::MimeParser& parser = wired.parser;
  for (const message::HeaderField& f : m.fields) {
    matcher.header(f);
    parser.header(f);
  }
  parser.endOfHeaders();
  matcher.envelope(m.envelope);
  for (std::size_t off = 0; off < m.body.size(); off += kChunk) {
    const std::string_view chunk = std::string_view(m.body).substr(off, kChunk);
    matcher.body(chunk);
    parser.body(chunk);
  }
  parser.finish();
  matcher.finish();
  std::vector<std::string> ids;
  for (const rules::Hit& h : matcher.conclude({})) ids.push_back(h.id);
  return ids;
}
#endif

void BM_RulesMatcher(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const HsSet& s = hsSet(n);
  const message::Limits limits;
  std::size_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (const Message& m : corpus()) hits += matchOne(s.set, limits, m);
    benchmark::DoNotOptimize(hits);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpusBytes()));
  state.counters["hits"] = static_cast<double>(hits);
  state.counters["compile_s"] = s.compile_s;
  state.counters["db_bytes"] = static_cast<double>(s.db_bytes);
  state.counters["stream_bytes"] = static_cast<double>(s.stream_bytes);
  if (s.from_cache > 0) state.counters["from_cache"] = static_cast<double>(s.from_cache);
}

// ---------------------------------------- the floor: Hyperscan alone, no mailwarden code

// The same generated patterns compiled straight with hs_compile_multi (one streaming
// database per scope, the flags the loader gives them), streamed over the bytes each scope
// sees (m.text, m.body, m.header_block) in the same 64 KiB chunks, with a callback that
// only counts. No MIME parsing, no decoding, no rule bookkeeping: what any design built on
// Hyperscan pays at N rules on this corpus. BM_RulesMatcher minus this is our own cost.
struct RawHsDb {
  hs_database_t* db = nullptr;
  hs_scratch_t* scratch = nullptr;
  RawHsDb() = default;
  RawHsDb(const RawHsDb&) = delete;
  RawHsDb& operator=(const RawHsDb&) = delete;
  ~RawHsDb() {
    hs_free_scratch(scratch);
    hs_free_database(db);
  }
};

struct RawHsSet {
  std::array<RawHsDb, 3> scopes;  // indexed by BenchScope
};

const RawHsSet& rawHsSet(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<RawHsSet>> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return *it->second;
  auto s = std::make_unique<RawHsSet>();
  const std::vector<GenRule> gen = generateRules(n);
  for (std::size_t scope = 0; scope < 3; ++scope) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags;
    std::vector<unsigned> ids;
    for (std::size_t i = 0; i < gen.size(); ++i) {
      if (static_cast<std::size_t>(gen[i].scope) != scope) continue;
      exprs.push_back(gen[i].pattern.c_str());
      flags.push_back(HS_FLAG_SINGLEMATCH | (gen[i].caseless ? HS_FLAG_CASELESS : 0u) |
                      (gen[i].multiline ? HS_FLAG_MULTILINE : 0u));
      ids.push_back(static_cast<unsigned>(i));
    }
    if (exprs.empty()) continue;
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()), HS_MODE_STREAM,
                         nullptr, &s->scopes[scope].db, &err) != HS_SUCCESS) {
      std::fprintf(stderr, "rules_bench: hs_compile_multi: %s\n", err != nullptr ? err->message : "?");
      std::exit(1);
    }
    if (hs_alloc_scratch(s->scopes[scope].db, &s->scopes[scope].scratch) != HS_SUCCESS) std::exit(1);
  }
  return *cache.emplace(n, std::move(s)).first->second;
}

int countMatch(unsigned, unsigned long long, unsigned long long, unsigned, void* ctx) {
  ++*static_cast<std::size_t*>(ctx);
  return 0;
}

void BM_HyperscanOnly(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const RawHsSet& s = rawHsSet(n);
  std::size_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (const Message& m : corpus()) {
      const std::array<std::string_view, 3> texts = {m.text, m.body, m.header_block};
      for (std::size_t scope = 0; scope < 3; ++scope) {
        const RawHsDb& d = s.scopes[scope];
        if (d.db == nullptr) continue;
        hs_stream_t* stream = nullptr;
        if (hs_open_stream(d.db, 0, &stream) != HS_SUCCESS) std::exit(1);
        const std::string_view t = texts[scope];
        for (std::size_t off = 0; off < t.size(); off += kChunk) {
          const std::string_view chunk = t.substr(off, kChunk);
          hs_scan_stream(stream, chunk.data(), static_cast<unsigned>(chunk.size()), 0, d.scratch, countMatch, &hits);
        }
        hs_close_stream(stream, d.scratch, countMatch, &hits);
      }
    }
    benchmark::DoNotOptimize(hits);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpusBytes()));
  state.counters["hits"] = static_cast<double>(hits);
}

// ------------------------------------------------------- engine B: PCRE2, one at a time

#ifdef MW_HAVE_PCRE2
struct Pcre2Rule {
  BenchScope scope;
  pcre2_code* code = nullptr;
};

struct Pcre2Set {
  std::vector<Pcre2Rule> rules;
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
  double compile_s = 0;
  std::size_t bytes = 0;
  Pcre2Set() = default;
  Pcre2Set(const Pcre2Set&) = delete;
  Pcre2Set& operator=(const Pcre2Set&) = delete;
  ~Pcre2Set() {
    for (Pcre2Rule& r : rules) pcre2_code_free(r.code);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mctx);
    pcre2_jit_stack_free(stack);
  }
};

const Pcre2Set& pcre2Set(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Pcre2Set>> cache;
  auto it = cache.find(n);
  if (it != cache.end()) return *it->second;
  auto s = std::make_unique<Pcre2Set>();
  const std::vector<GenRule> gen = generateRules(n);
  const double t0 = cpuSeconds();
  for (const GenRule& g : gen) {
    int err = 0;
    PCRE2_SIZE off = 0;
    std::uint32_t opts = (g.caseless ? PCRE2_CASELESS : 0) | (g.multiline ? PCRE2_MULTILINE : 0);
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(g.pattern.data()), g.pattern.size(), opts,
                                     &err, &off, nullptr);
    if (code == nullptr || pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) != 0) {
      std::fprintf(stderr, "rules_bench: PCRE2 cannot compile %s: %s\n", g.id.c_str(), g.pattern.c_str());
      std::exit(1);
    }
    std::size_t size = 0, jit = 0;
    pcre2_pattern_info(code, PCRE2_INFO_SIZE, &size);
    pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit);
    s->bytes += size + jit;
    s->rules.push_back(Pcre2Rule{g.scope, code});
  }
  s->compile_s = cpuSeconds() - t0;
  s->md = pcre2_match_data_create(1, nullptr);
  s->mctx = pcre2_match_context_create(nullptr);
  s->stack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, nullptr);
  pcre2_jit_stack_assign(s->mctx, nullptr, s->stack);
  return *cache.emplace(n, std::move(s)).first->second;
}

void BM_Pcre2Loop(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  const Pcre2Set& s = pcre2Set(n);
  std::size_t hits = 0;
  for (auto _ : state) {
    hits = 0;
    for (const Message& m : corpus()) {
      const std::array<std::string_view, 3> texts = {m.text, m.body, m.header_block};
      for (const Pcre2Rule& r : s.rules) {
        const std::string_view t = texts[static_cast<int>(r.scope)];
        const int rc = pcre2_jit_match(r.code, reinterpret_cast<PCRE2_SPTR>(t.data()), t.size(), 0, 0, s.md,
                                       s.mctx);
        if (rc >= 0) ++hits;
      }
    }
    benchmark::DoNotOptimize(hits);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpusBytes()));
  state.counters["hits"] = static_cast<double>(hits);
  state.counters["compile_s"] = s.compile_s;
  state.counters["pcre2_bytes"] = static_cast<double>(s.bytes);
}
#endif

#ifdef MW_HAVE_PCRE2
// MW_RULES_BENCH_DIFF=N: prints every (message, rule) on which the two engines disagree
// for N rules, with the rule's pattern, then exits.
int printDifferences(std::size_t n) {
  const HsSet& a = hsSet(n);
  const Pcre2Set& b = pcre2Set(n);
  const std::vector<GenRule> gen = generateRules(n);
  std::size_t diffs = 0;
  for (std::size_t i = 0; i < corpus().size(); ++i) {
    const Message& m = corpus()[i];
    const std::vector<std::string> ids = hitIds(a.set, m);
    const std::array<std::string_view, 3> texts = {m.text, m.body, m.header_block};
    for (std::size_t k = 0; k < gen.size(); ++k) {
      const std::string_view t = texts[static_cast<int>(gen[k].scope)];
      const bool hit_b = pcre2_jit_match(b.rules[k].code, reinterpret_cast<PCRE2_SPTR>(t.data()), t.size(), 0, 0,
                                         b.md, b.mctx) >= 0;
      bool hit_a = false;
      for (const std::string& id : ids) hit_a = hit_a || id == gen[k].id;
      if (hit_a != hit_b) {
        ++diffs;
        std::printf("message %zu %s (%s, %s'%s'): matcher %s, PCRE2 %s\n", i, gen[k].id.c_str(),
                    std::string(kScopeNames[static_cast<int>(gen[k].scope)]).c_str(),
                    gen[k].caseless ? "caseless " : "", gen[k].pattern.c_str(), hit_a ? "hit" : "miss",
                    hit_b ? "hit" : "miss");
      }
    }
  }
  std::printf("%zu differences over %zu messages and %zu rules\n", diffs, corpus().size(), n);
  return 0;
}
#endif

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {10, 100, 1000, 10000}) b->Arg(n);
  // CPU time, not wall time: the matcher is single-threaded, and on a shared machine
  // the wall clock measures the neighbours.
  b->Unit(benchmark::kMillisecond)->MinTime(kMinTimeSeconds);
}

// The floor under BM_RulesMatcher: the same messages through the MIME parser alone,
// with a sink that takes the decoded data, and no rules.
class CountingSink final : public message::MimeSink {
 public:
  void partBegin(const message::PartInfo&) override {}
  void partHeader(const message::PartInfo&, const message::HeaderField&) override {}
  void partData(const message::PartInfo&, std::string_view data) override { bytes += data.size(); }
  void partEnd(const message::PartInfo&) override {}
  std::size_t bytes = 0;
};

void BM_MimeParseOnly(benchmark::State& state) {
  const message::Limits limits;
  std::size_t decoded = 0;
  for (auto _ : state) {
    decoded = 0;
    for (const Message& m : corpus()) {
      CountingSink sink;
      message::MimeParser parser(limits, &sink);
      for (const message::HeaderField& f : m.fields) parser.header(f);
      parser.endOfHeaders();
      std::string_view body = m.body;
      for (std::size_t off = 0; off < body.size(); off += kChunk) parser.body(body.substr(off, kChunk));
      parser.finish();
      decoded += sink.bytes;
    }
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * corpusBytes()));
  state.counters["decoded_bytes"] = static_cast<double>(decoded);
}
BENCHMARK(BM_MimeParseOnly)->Unit(benchmark::kMillisecond)->MinTime(kMinTimeSeconds);

BENCHMARK(BM_RulesMatcher)->Apply(sizes);
BENCHMARK(BM_HyperscanOnly)->Apply(sizes);
#ifdef MW_HAVE_PCRE2
BENCHMARK(BM_Pcre2Loop)->Apply(sizes);
#endif

}  // namespace

int main(int argc, char** argv) {
  // MW_RULES_BENCH_WRITE=N: prints the YAML of N generated rules and exits (the whole-
  // filter benchmark, bench/run-milter-bench.sh --rules shipped+N, loads them).
  if (const char* write = std::getenv("MW_RULES_BENCH_WRITE")) {
    const std::string yaml = rulesYaml(generateRules(std::strtoul(write, nullptr, 10)));
    return std::fwrite(yaml.data(), 1, yaml.size(), stdout) == yaml.size() ? 0 : 1;
  }
  std::printf("rules_bench: corpus of %zu messages, %.2f MB (seed %#llx)\n", corpus().size(),
              static_cast<double>(corpusBytes()) / 1e6, static_cast<unsigned long long>(kSeed));
#ifndef MW_HAVE_PCRE2
  std::printf("rules_bench: PCRE2 comparison skipped: configure found no libpcre2-8 (apt-get install libpcre2-dev)\n");
#endif
#ifdef MW_HAVE_PCRE2
  if (const char* diff = std::getenv("MW_RULES_BENCH_DIFF")) return printDifferences(std::strtoul(diff, nullptr, 10));
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
