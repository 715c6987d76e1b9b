// tests/unit/message/testing.h — fakes and helpers shared by the message/ unit tests:
// a recording MIME sink, a reader sink that feeds a MimeParser, deterministic input
// splitting, and escaping for readable `got ... want ...` messages.
#pragma once

#include "mailwarden/message/defects.h"
#include "mailwarden/message/header.h"
#include "mailwarden/message/limits.h"
#include "mailwarden/message/mime.h"
#include "mailwarden/message/reader.h"

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace mw::message::testing {

// escape - CR, LF, tabs and non-printable bytes made visible.
inline std::string escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;  // UTF-8 stays readable
    }
  }
  return out;
}

// Records every MimeSink event as one line of text; partData chunks are recorded as
// they come (see collapsed() for a chunking-independent view).
class RecordingSink : public MimeSink {
 public:
  void partBegin(const PartInfo& p) override {
    std::string e = "begin #" + std::to_string(p.index) + " d" + std::to_string(p.depth) + " " +
                    p.content_type;
    if (!p.charset.empty()) {
      e += " cs=" + p.charset;
    }
    if (p.transfer_encoding != "7bit") {
      e += " cte=" + p.transfer_encoding;
    }
    if (!p.disposition.empty()) {
      e += " disp=" + p.disposition;
    }
    if (!p.filename.empty()) {
      e += " fn=" + escape(p.filename);
    }
    if (p.is_multipart) {
      e += " multipart";
    }
    if (p.is_message) {
      e += " message";
    }
    events.push_back(e);
    parts.push_back(p);
    ++open;
  }
  void partHeader(const PartInfo& p, const HeaderField& f) override {
    events.push_back("header #" + std::to_string(p.index) + " " + f.name + ":" + escape(f.value));
  }
  void partData(const PartInfo& p, std::string_view data) override {
    events.push_back("data #" + std::to_string(p.index) + " " + escape(data));
    if (data_.size() <= p.index) {
      data_.resize(p.index + 1);
    }
    data_[p.index].append(data);
    data_bytes += data.size();
  }
  void partEnd(const PartInfo& p) override {
    events.push_back("end #" + std::to_string(p.index));
    --open;
  }

  // The decoded content of part i (empty when it had none).
  std::string data(std::size_t i) const { return i < data_.size() ? data_[i] : std::string(); }

  // Events with consecutive data events of one part merged, and header events left
  // out when drop_headers is set: what a test usually wants to compare.
  std::vector<std::string> collapsed(bool drop_headers = true) const {
    std::vector<std::string> out;
    for (const std::string& e : events) {
      if (drop_headers && e.starts_with("header ")) {
        continue;
      }
      if (e.starts_with("data ") && !out.empty() && out.back().starts_with("data ")) {
        const std::size_t sp1 = e.find(' ', 5);
        const std::size_t sp2 = out.back().find(' ', 5);
        if (e.substr(0, sp1) == out.back().substr(0, sp2)) {
          out.back() += e.substr(sp1 + 1);
          continue;
        }
      }
      out.push_back(e);
    }
    return out;
  }

  std::vector<std::string> events;
  std::vector<PartInfo> parts;
  std::size_t data_bytes = 0;
  int open = 0;  // partBegin minus partEnd: 0 after finish()

 private:
  std::vector<std::string> data_;
};

// Feeds what a MessageReader splits into a MimeParser, as scan/ does.
class ReaderToMime : public ReaderSink {
 public:
  explicit ReaderToMime(MimeParser& parser) : parser_(parser) {}
  void header(std::string_view name, std::string_view value) override {
    parser_.header(HeaderField{std::string(name), std::string(value)});
  }
  void endOfHeaders() override { parser_.endOfHeaders(); }
  void body(std::string_view chunk) override { parser_.body(chunk); }

 private:
  MimeParser& parser_;
};

// splitSizes - deterministic chunk sizes for input of length n: all 1 when step == 1,
// one chunk when step == 0, else pseudo-random sizes in [1, step] from seed.
inline std::vector<std::size_t> splitSizes(std::size_t n, std::size_t step, std::uint32_t seed) {
  std::vector<std::size_t> sizes;
  if (step == 0) {
    sizes.push_back(n);
    return sizes;
  }
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> dist(1, step);
  std::size_t left = n;
  while (left > 0) {
    const std::size_t k = step == 1 ? 1 : std::min(left, dist(rng));
    sizes.push_back(k);
    left -= k;
  }
  return sizes;
}

struct Parsed {
  RecordingSink sink;
  Defects defects;  // reader + parser
  std::size_t part_count = 0;
};

// parse - raw message through MessageReader and MimeParser, in chunks from splitSizes.
inline void parse(std::string_view raw, const Limits& limits, Parsed& p, std::size_t step = 0,
                  std::uint32_t seed = 1) {
  MimeParser parser(limits, &p.sink);
  ReaderToMime bridge(parser);
  MessageReader reader(limits, bridge);
  std::size_t off = 0;
  for (const std::size_t k : splitSizes(raw.size(), step, seed)) {
    reader.feed(raw.substr(off, k));
    off += k;
  }
  reader.finish();
  parser.finish();
  p.defects = parser.defects();
  p.defects.merge(reader.defects());
  p.part_count = parser.partCount();
}

// crlf - LF line ends to CRLF, so tables can be written with "\n".
inline std::string crlf(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

}  // namespace mw::message::testing
