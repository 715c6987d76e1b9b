// report/xml.cpp — RFC 9990 Appendix A documents through libxml2's xmlTextWriter.
#include "mailwarden/report/xml.h"

#include <libxml/xmlwriter.h>

#include <memory>

namespace mw::report {
namespace {

constexpr const char* kNamespace = "urn:ietf:params:xml:ns:dmarc-2.0";

struct BufferFree {
  void operator()(xmlBufferPtr b) const noexcept { xmlBufferFree(b); }
};
struct WriterFree {
  void operator()(xmlTextWriterPtr w) const noexcept { xmlFreeTextWriter(w); }
};

const xmlChar* X(const char* s) noexcept { return reinterpret_cast<const xmlChar*>(s); }

// The writer calls in sequence; the first failure sticks and the rest are skipped, so the
// document code reads top-down without a check after every element.
class Doc {
 public:
  explicit Doc(xmlTextWriterPtr w) noexcept : w_(w) {}
  bool ok() const noexcept { return ok_; }

  void open(const char* name) { check(xmlTextWriterStartElement(w_, X(name))); }
  void close() { check(xmlTextWriterEndElement(w_)); }
  void text(const char* name, std::string_view value) {
    const std::string safe = xmlSafe(value);
    check(xmlTextWriterWriteElement(w_, X(name), X(safe.c_str())));
  }
  void attribute(const char* name, const char* value) {
    check(xmlTextWriterWriteAttribute(w_, X(name), X(value)));
  }
  void raw(int rc) { check(rc); }

 private:
  void check(int rc) noexcept {
    if (rc < 0) {
      ok_ = false;
    }
  }
  xmlTextWriterPtr w_;
  bool ok_ = true;
};

void writePolicy(Doc& d, const PolicyPublished& p) {
  d.open("policy_published");
  d.text("domain", p.domain);
  d.text("p", toString(p.p));
  if (p.sp) {
    d.text("sp", toString(*p.sp));
  }
  if (p.np) {
    d.text("np", toString(*p.np));
  }
  d.text("adkim", toString(p.adkim));
  d.text("aspf", toString(p.aspf));
  d.text("discovery_method", toString(p.discovery));
  d.text("testing", p.testing ? "y" : "n");
  d.close();
}

void writeRecord(Doc& d, const Row& row) {
  const Record& r = row.record;
  d.open("record");
  d.open("row");
  d.text("source_ip", r.source_ip);
  d.text("count", std::to_string(row.count));
  d.open("policy_evaluated");  // a sequence: disposition, dkim, spf, reason*
  d.text("disposition", toString(r.disposition));
  d.text("dkim", toString(r.dkim_aligned));
  d.text("spf", toString(r.spf_aligned));
  for (const Override& o : r.overrides) {
    d.open("reason");
    d.text("type", toString(o.type));
    if (!o.comment.empty()) {
      d.text("comment", o.comment);
    }
    d.close();
  }
  d.close();  // policy_evaluated
  d.close();  // row
  d.open("identifiers");
  d.text("header_from", r.header_from);
  if (!r.envelope_from.empty()) {
    d.text("envelope_from", r.envelope_from);
  }
  if (!r.envelope_to.empty()) {
    d.text("envelope_to", r.envelope_to);
  }
  d.close();
  d.open("auth_results");  // a sequence: dkim*, spf?
  for (const DkimAuth& k : r.dkim) {
    d.open("dkim");
    d.text("domain", k.domain);
    d.text("selector", k.selector);
    d.text("result", toString(k.result));
    d.close();
  }
  if (r.spf) {
    d.open("spf");
    d.text("domain", r.spf->domain);
    if (r.spf->scope == SpfScope::MailFrom) {  // the schema knows only "mfrom"
      d.text("scope", toString(r.spf->scope));
    }
    d.text("result", toString(r.spf->result));
    d.close();
  }
  d.close();  // auth_results
  d.close();  // record
}

}  // namespace

std::string xmlSafe(std::string_view s) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    if (b < 0x80) {
      len = 1;
      cp = b;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
      cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      cp = b & 0x07;
    }
    bool valid = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) {
        valid = false;
      }
      cp = (cp << 6) | (c & 0x3F);
    }
    // overlong forms, surrogates and values past U+10FFFF are not UTF-8 (RFC 3629 §3)
    if (valid && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                  (cp >= 0xD800 && cp <= 0xDFFF))) {
      valid = false;
    }
    // XML 1.0 §2.2 Char
    if (valid && ((cp < 0x20 && cp != 0x9 && cp != 0xA && cp != 0xD) || cp == 0xFFFE ||
                  cp == 0xFFFF)) {
      valid = false;
    }
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append(kReplacement);
      i += 1;  // resynchronise on the next byte
    }
  }
  return out;
}

Result<std::string> renderAggregateReport(const ReportMeta& meta, const std::vector<Row>& rows) {
  if (rows.empty()) {
    return fail(Errc::Invalid, "aggregate report: no rows (RFC 9990 needs at least one record)");
  }
  if (meta.org_name.empty() || meta.email.empty() || meta.report_id.empty()) {
    return fail(Errc::Invalid, "aggregate report: org_name, email and report_id are required");
  }
  std::unique_ptr<xmlBuffer, BufferFree> buf(xmlBufferCreate());
  if (!buf) {
    return fail(Errc::Internal, "aggregate report: xmlBufferCreate failed");
  }
  // The writer does not own the buffer: freed in reverse order (writer first).
  std::unique_ptr<xmlTextWriter, WriterFree> w(xmlNewTextWriterMemory(buf.get(), 0));
  if (!w) {
    return fail(Errc::Internal, "aggregate report: xmlNewTextWriterMemory failed");
  }
  xmlTextWriterSetIndent(w.get(), 1);
  xmlTextWriterSetIndentString(w.get(), X("  "));

  Doc d(w.get());
  d.raw(xmlTextWriterStartDocument(w.get(), "1.0", "UTF-8", nullptr));
  d.open("feedback");
  d.attribute("xmlns", kNamespace);
  d.text("version", "1.0");
  d.open("report_metadata");
  d.text("org_name", meta.org_name);
  d.text("email", meta.email);
  if (!meta.extra_contact_info.empty()) {
    d.text("extra_contact_info", meta.extra_contact_info);
  }
  d.text("report_id", meta.report_id);
  d.open("date_range");
  d.text("begin", std::to_string(meta.begin));
  d.text("end", std::to_string(meta.end));
  d.close();
  if (!meta.generator.empty()) {
    d.text("generator", meta.generator);
  }
  d.close();  // report_metadata
  writePolicy(d, meta.policy);
  for (const Row& row : rows) {
    writeRecord(d, row);
  }
  d.raw(xmlTextWriterEndDocument(w.get()));  // closes feedback
  w.reset();                                  // flushes into buf
  if (!d.ok()) {
    return fail(Errc::Internal, "aggregate report: libxml2 writer failed");
  }
  return std::string(reinterpret_cast<const char*>(xmlBufferContent(buf.get())),
                     static_cast<std::size_t>(xmlBufferLength(buf.get())));
}

}  // namespace mw::report
