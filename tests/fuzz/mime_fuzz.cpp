// Fuzz target: MessageReader -> MimeParser, with small limits so every limit is
// reachable. Invariants checked (a violation traps):
//  - every partBegin has one partEnd, properly nested; partData only inside a leaf;
//  - depth <= max_mime_depth + 1 for leaves made opaque, parts <= max_mime_parts;
//  - decoded data per part stays within max_decoded_bytes (times 4 for UTF-8 growth);
//  - fed whole or in chunks (size from byte 0), the event sequence is the same.
#include "mailwarden/message/mime.h"
#include "mailwarden/message/reader.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace mw::message;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

// Checks nesting and folds the event sequence into a hash (FNV-1a), so two runs can
// be compared without keeping all data.
class CheckingSink : public MimeSink {
 public:
  explicit CheckingSink(const Limits& l) : limits_(l) {}
  void partBegin(const PartInfo& p) override {
    check(p.depth <= limits_.max_mime_depth);
    check(p.index < limits_.max_mime_parts);
    check(p.index == begun_);
    ++begun_;
    open_.push_back(Open{p.index, p.is_multipart || p.is_message, 0});
    mix("B");
    mix(p.content_type);
    mix(p.filename);
  }
  void partHeader(const PartInfo& p, const HeaderField& f) override {
    check(!open_.empty() && open_.back().index == p.index);
    mix("H");
    mix(f.name);
    mix(f.value);
  }
  void partData(const PartInfo& p, std::string_view data) override {
    check(!open_.empty() && open_.back().index == p.index && !open_.back().container);
    check(!data.empty());
    open_.back().bytes += data.size();
    check(open_.back().bytes <= 4 * limits_.max_decoded_bytes + 16);
    mix("D");
    mix(data);
  }
  void partEnd(const PartInfo& p) override {
    check(!open_.empty() && open_.back().index == p.index);
    open_.pop_back();
    mix("E");
  }
  bool balanced() const { return open_.empty(); }
  std::uint64_t hash() const { return hash_; }

 private:
  struct Open {
    std::size_t index;
    bool container;
    std::size_t bytes;
  };
  void mix(std::string_view s) {
    for (const char c : s) {
      hash_ = (hash_ ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    hash_ = (hash_ ^ 0xFFu) * 1099511628211ULL;
  }
  Limits limits_;
  std::vector<Open> open_;
  std::size_t begun_ = 0;
  std::uint64_t hash_ = 14695981039346656037ULL;
};

class Bridge : public ReaderSink {
 public:
  explicit Bridge(MimeParser& p) : p_(p) {}
  void header(std::string_view name, std::string_view value) override {
    p_.header(HeaderField{std::string(name), std::string(value)});
  }
  void endOfHeaders() override { p_.endOfHeaders(); }
  void body(std::string_view chunk) override { p_.body(chunk); }

 private:
  MimeParser& p_;
};

struct Run {
  std::uint64_t hash;
  std::uint32_t defects;
};

Run run(std::string_view in, const Limits& limits, std::size_t step) {
  CheckingSink sink(limits);
  MimeParser parser(limits, &sink);
  Bridge bridge(parser);
  MessageReader reader(limits, bridge);
  for (std::size_t off = 0; off < in.size(); off += step) {
    reader.feed(in.substr(off, step));
  }
  reader.finish();
  parser.finish();
  check(sink.balanced());
  check(parser.partCount() <= limits.max_mime_parts);
  return Run{sink.hash(), parser.defects().bits() | reader.defects().bits()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Limits limits;
  limits.max_header_bytes = 4096;
  limits.max_headers = 64;
  limits.max_line_length = 200;
  limits.max_mime_depth = 6;
  limits.max_mime_parts = 40;
  limits.max_decoded_bytes = 8192;

  const Run whole = run(in, limits, in.size() == 0 ? 1 : in.size());
  const std::size_t step = size == 0 ? 1 : (data[0] % 29) + 1;
  const Run split = run(in, limits, step);
  check(whole.hash == split.hash);
  check(whole.defects == split.defects);
  return 0;
}
