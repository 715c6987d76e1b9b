#include "mailwarden/report/delivery.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <limits>
#include <span>

#include "mailwarden/base/ascii.h"

namespace mw::report {
namespace {

// The MIME boundary. It can never occur in the parts: base64 has no '_' and the text part
// is ours (numbers and LDH domain names). RFC 2046 §5.1.1 allows "=" and "_" in it; "=_"
// cannot start a quoted-printable or base64 line either, the usual trick.
constexpr std::string_view kBoundary = "=_mailwarden_dmarc_report_=";

// The longest part suffix the split phase sizes with (see buildReports).
constexpr int kPlaceholderPart = 999999;

std::string_view trimWsp(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = ascii::toLower(c);
  }
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = ascii::toLower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// A host name we can query and write in a header: LDH labels of 1..63, at most 253.
bool isHostName(std::string_view h) {
  if (h.empty() || h.size() > 253) {
    return false;
  }
  std::size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) {
      return false;
    }
  }
  return label != 0;
}

// RFC 7489 §6.2: size = 1*DIGIT [ "k" / "m" / "g" / "t" ], units of 2^10 each.
std::optional<std::uint64_t> parseSize(std::string_view s) {
  std::uint64_t value = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (i >= 15) {  // 10^15 bytes is beyond any mail system: refuse rather than overflow
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(s[i] - '0');
  }
  if (i == 0) {
    return std::nullopt;
  }
  int shift = 0;
  if (i < s.size()) {
    switch (ascii::toLower(s[i])) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      case 't': shift = 40; break;
      default: return std::nullopt;
    }
    ++i;
  }
  if (i != s.size()) {
    return std::nullopt;
  }
  if (value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    return std::nullopt;
  }
  return value << shift;
}

std::string renderDate(std::int64_t day) {
  const std::time_t t = static_cast<std::time_t>(day * 86400);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
  return buf;
}

struct Chunk {
  std::vector<Row> rows;
  std::string gzip;  // sized with the placeholder id
};

// Renders and gzips `meta` over `rows`.
Result<std::string> renderGzip(const ReportMeta& meta, const std::vector<Row>& rows) {
  Result<std::string> xml = renderAggregateReport(meta, rows);
  if (!xml) {
    return fail(xml.error());
  }
  return gzipCompress(*xml);
}

// Halves `rows` until each half's gzip fits `max_bytes`; appends the pieces in order.
// Depth is bounded by log2(rows.size()).
Result<void> fit(const ReportMeta& meta, std::vector<Row> rows, std::uint64_t max_bytes,
                 std::vector<Chunk>& out, std::size_t& too_large) {
  Result<std::string> gz = renderGzip(meta, rows);
  if (!gz) {
    return fail(gz.error());
  }
  if (max_bytes == 0 || gz->size() <= max_bytes) {
    out.push_back(Chunk{std::move(rows), std::move(*gz)});
    return {};
  }
  if (rows.size() == 1) {
    ++too_large;
    return {};
  }
  const auto half = static_cast<std::ptrdiff_t>(rows.size() / 2);
  std::vector<Row> second(std::make_move_iterator(rows.begin() + half),
                          std::make_move_iterator(rows.end()));
  rows.erase(rows.begin() + half, rows.end());
  if (Result<void> r = fit(meta, std::move(rows), max_bytes, out, too_large); !r) {
    return r;
  }
  return fit(meta, std::move(second), max_bytes, out, too_large);
}

}  // namespace

std::optional<MailtoUri> parseMailto(std::string_view uri) {
  uri = trimWsp(uri);
  constexpr std::string_view kScheme = "mailto:";
  if (uri.size() <= kScheme.size() || !ascii::iequals(uri.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  uri.remove_prefix(kScheme.size());
  MailtoUri out;
  // A literal '!' starts the size: one in an address must be percent-encoded (RFC 7489
  // §6.2, RFC 6068 §2).
  if (const std::size_t bang = uri.find('!'); bang != std::string_view::npos) {
    const std::optional<std::uint64_t> size = parseSize(uri.substr(bang + 1));
    if (!size) {
      return std::nullopt;
    }
    out.max_bytes = *size;
    uri = uri.substr(0, bang);
  }
  for (std::size_t i = 0; i < uri.size(); ++i) {
    char c = uri[i];
    if (c == '%') {
      const int hi = i + 2 < uri.size() ? hexValue(uri[i + 1]) : -1;
      const int lo = i + 2 < uri.size() ? hexValue(uri[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return std::nullopt;
      }
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    // Printable ASCII only, and none of what ends or quotes an address in a header
    // field: the result goes into To: verbatim. '?' and '#' (RFC 6068 hfields, a
    // fragment) are refused rather than half-understood.
    if (u <= 0x20 || u >= 0x7f || std::string_view("<>,;:\"()[]\\?#").find(c) != std::string_view::npos) {
      return std::nullopt;
    }
    out.address.push_back(c);
  }
  const std::size_t at = out.address.find('@');
  if (at == std::string::npos || at == 0 || out.address.find('@', at + 1) != std::string::npos) {
    return std::nullopt;
  }
  std::string host = lowerCopy(std::string_view(out.address).substr(at + 1));
  if (!host.empty() && host.back() == '.') {
    host.pop_back();
  }
  if (!isHostName(host)) {
    return std::nullopt;
  }
  out.address = out.address.substr(0, at + 1) + host;
  out.host = std::move(host);
  return out;
}

std::string periodDate(Period period) { return renderDate(period.day); }

std::string submitterDomain(std::string_view email) {
  const std::size_t at = email.rfind('@');
  if (at == std::string_view::npos || at + 1 >= email.size()) {
    return {};
  }
  return lowerCopy(email.substr(at + 1));
}

ReportNames reportNames(std::string_view submitter, std::string_view policy_domain, Period period,
                        int part) {
  ReportNames n;
  const std::string suffix = part > 0 ? std::to_string(part) : std::string();
  // ridfmt = dot-atom-text ["@" dot-atom-text]: the date, the domain and the part, all
  // dot-atom text, so the id is stable for a re-send and unique per domain and period.
  n.report_id = periodDate(period) + "." + std::string(policy_domain) +
                (suffix.empty() ? "" : "." + suffix) + "@" + std::string(submitter);
  n.filename = std::string(submitter) + "!" + std::string(policy_domain) + "!" +
               std::to_string(period.begin()) + "!" + std::to_string(period.end()) +
               (suffix.empty() ? "" : "!" + suffix) + ".xml.gz";
  const std::string a = "Report Domain: " + std::string(policy_domain);
  const std::string b = "Submitter: " + std::string(submitter);
  const std::string c = "Report-ID: <" + n.report_id + ">";
  // RFC 5322 §2.1.1: lines SHOULD stay within 78 characters; fold (FWS) between the
  // three parts, as RFC 9990's own example does, when "Subject: " + all would not.
  if (std::string_view("Subject: ").size() + a.size() + b.size() + c.size() + 2 <= 78) {
    n.subject = a + " " + b + " " + c;
  } else {
    n.subject = a + "\n " + b + "\n " + c;
  }
  return n;
}

Result<std::string> gzipCompress(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer (RFC 1952), not a zlib stream.
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return fail(Errc::Internal, "zlib: deflateInit2 failed");
  }
  struct End {
    z_stream* z;
    ~End() { deflateEnd(z); }
  } end{&zs};
  std::string out;
  std::array<unsigned char, 64 * 1024> buf{};
  constexpr std::size_t kMaxIn = std::numeric_limits<uInt>::max();
  std::size_t pos = 0;
  int rc = Z_OK;
  // Bounded: each pass consumes input or produces output, and Z_STREAM_END ends it.
  while (rc != Z_STREAM_END) {
    if (zs.avail_in == 0 && pos < data.size()) {
      const std::size_t n = std::min(kMaxIn, data.size() - pos);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + pos));
      zs.avail_in = static_cast<uInt>(n);
      pos += n;
    }
    zs.next_out = buf.data();
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = deflate(&zs, pos < data.size() ? Z_NO_FLUSH : Z_FINISH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      return fail(Errc::Internal, "zlib: deflate failed");
    }
    out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - zs.avail_out);
  }
  return out;
}

std::vector<std::vector<Row>> splitByPolicy(const std::vector<Row>& rows) {
  std::vector<std::vector<Row>> groups;
  for (const Row& r : rows) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const std::vector<Row>& g) {
      return g.front().record.policy == r.record.policy;
    });
    if (it == groups.end()) {
      groups.push_back({r});
    } else {
      it->push_back(r);
    }
  }
  return groups;
}

Result<BuildOutcome> buildReports(const ReportMeta& meta, std::string_view submitter,
                                  std::string_view policy_domain, Period period,
                                  const std::vector<Row>& rows, std::uint64_t max_bytes) {
  BuildOutcome outcome;
  // Phase 1: split each policy configuration until it fits. The ids are not known yet
  // (they number the final pieces), so the pieces are sized with the longest id this
  // run can write; the final ids are no longer, so the final gzips stay within a few
  // bytes of what was measured.
  std::vector<std::pair<PolicyPublished, Chunk>> pieces;
  for (std::vector<Row>& group : splitByPolicy(rows)) {
    ReportMeta m = meta;
    m.policy = group.front().record.policy;
    m.policy.domain = std::string(policy_domain);
    m.begin = period.begin();
    m.end = period.end();
    m.report_id = reportNames(submitter, policy_domain, period, kPlaceholderPart).report_id;
    std::vector<Chunk> chunks;
    if (Result<void> r = fit(m, std::move(group), max_bytes, chunks, outcome.rows_too_large); !r) {
      return fail(r.error());
    }
    for (Chunk& c : chunks) {
      pieces.emplace_back(m.policy, std::move(c));
    }
  }
  // Phase 2: the final names and documents.
  const bool numbered = pieces.size() > 1;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    BuiltReport b;
    b.names = reportNames(submitter, policy_domain, period, numbered ? static_cast<int>(i + 1) : 0);
    b.policy = pieces[i].first;
    ReportMeta m = meta;
    m.policy = b.policy;
    m.begin = period.begin();
    m.end = period.end();
    m.report_id = b.names.report_id;
    const std::vector<Row>& part = pieces[i].second.rows;
    Result<std::string> gz = renderGzip(m, part);
    if (!gz) {
      return fail(gz.error());
    }
    b.gzip = std::move(*gz);
    b.rows = part.size();
    for (const Row& r : part) {
      b.messages += r.count;
    }
    outcome.reports.push_back(std::move(b));
  }
  return outcome;
}

std::string messageIdFor(std::string_view report_id, std::size_t index) {
  if (index == 0) {
    return std::string(report_id);
  }
  const std::size_t at = report_id.rfind('@');
  const std::string tag = ".d" + std::to_string(index + 1);
  if (at == std::string_view::npos) {
    return std::string(report_id) + tag;
  }
  return std::string(report_id.substr(0, at)) + tag + std::string(report_id.substr(at));
}

std::string rfc5322Date(std::int64_t t) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr",
                                                          "May", "Jun", "Jul", "Aug",
                                                          "Sep", "Oct", "Nov", "Dec"};
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000",
                kDays[static_cast<std::size_t>(tm.tm_wday) % 7],
                tm.tm_mday, kMonths[static_cast<std::size_t>(tm.tm_mon) % 12],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string base64Lines(std::string_view data) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(data.size() / 3 * 4 + data.size() / 57 + 8);
  std::size_t col = 0;
  auto put = [&](char c) {
    out.push_back(c);
    if (++col == 76) {  // RFC 2045 §6.8: no more than 76 characters per line
      out.push_back('\n');
      col = 0;
    }
  };
  for (std::size_t i = 0; i < data.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, data.size() - i);
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (n > 1) {
      v |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    }
    if (n > 2) {
      v |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 2]));
    }
    put(kAlphabet[(v >> 18) & 63]);
    put(kAlphabet[(v >> 12) & 63]);
    put(n > 1 ? kAlphabet[(v >> 6) & 63] : '=');
    put(n > 2 ? kAlphabet[v & 63] : '=');
  }
  if (col != 0) {
    out.push_back('\n');
  }
  return out;
}

std::string composeMail(const ReportMail& mail) {
  std::string m;
  m += "From: " + mail.from + "\n";
  m += "To: " + mail.to + "\n";
  m += "Subject: " + mail.subject + "\n";
  m += "Date: " + rfc5322Date(mail.date) + "\n";
  m += "Message-ID: <" + mail.message_id + ">\n";
  // RFC 3834 §5: a report is generated by a program; responders must not answer it.
  m += "Auto-Submitted: auto-generated\n";
  m += "MIME-Version: 1.0\n";
  m += "Content-Type: multipart/mixed; boundary=\"" + std::string(kBoundary) + "\"\n";
  m += "\n";
  m += "This is a DMARC aggregate report (RFC 9990) in MIME format.\n";
  m += "\n--" + std::string(kBoundary) + "\n";
  m += "Content-Type: text/plain; charset=us-ascii\n";
  m += "Content-Transfer-Encoding: 7bit\n\n";
  m += mail.summary;
  if (!mail.summary.empty() && mail.summary.back() != '\n') {
    m += "\n";
  }
  m += "\n--" + std::string(kBoundary) + "\n";
  // RFC 6713: application/gzip; RFC 2183: the filename RFC 9990 prescribes.
  m += "Content-Type: application/gzip; name=\"" + mail.filename + "\"\n";
  m += "Content-Transfer-Encoding: base64\n";
  m += "Content-Disposition: attachment; filename=\"" + mail.filename + "\"\n\n";
  m += base64Lines(mail.gzip);
  m += "\n--" + std::string(kBoundary) + "--\n";
  return m;
}

}  // namespace mw::report
