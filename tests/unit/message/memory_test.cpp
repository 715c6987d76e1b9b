// Memory must not grow with the body (DESIGN.md: "Memory per message is bounded by
// configuration, not by message size"). A 50 MB multipart message with a big base64
// attachment is generated on the fly in 64 KB chunks and streamed through
// MessageReader and MimeParser into a sink that only counts; VmRSS is sampled from
// /proc/self/status as it goes.
#include "mailwarden/message/mime.h"
#include "mailwarden/message/reader.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace mw::message {
namespace {

// vmRssKiB - the resident set size of this process, or -1 when /proc is unavailable.
long vmRssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

class CountingSink : public MimeSink {
 public:
  void partBegin(const PartInfo&) override { ++parts; }
  void partHeader(const PartInfo&, const HeaderField&) override {}
  void partData(const PartInfo&, std::string_view data) override { bytes += data.size(); }
  void partEnd(const PartInfo&) override {}
  std::size_t parts = 0;
  std::size_t bytes = 0;
};

// Produces the message in chunks of exactly `chunk` bytes (the last one shorter),
// reusing one buffer: the generator itself must not allocate as it goes.
class BigMessage {
 public:
  BigMessage(std::size_t total, std::size_t chunk) : total_(total), chunk_(chunk) {
    buf_.reserve(chunk + 256);
    pending_ =
        "From: big@example.org\r\n"
        "Subject: fifty megabytes\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=\"=_big\"\r\n"
        "\r\n"
        "--=_big\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "See the attachment.\r\n"
        "--=_big\r\n"
        "Content-Type: application/octet-stream; name=\"big.bin\"\r\n"
        "Content-Disposition: attachment; filename=\"big.bin\"\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n";
  }

  // next - the next chunk; empty at the end.
  std::string_view next() {
    buf_.clear();
    while (buf_.size() < chunk_ && !(done_ && pending_.empty())) {
      if (pending_.empty()) {
        refill();
        continue;
      }
      const std::size_t n = std::min(chunk_ - buf_.size(), pending_.size());
      buf_.append(pending_, 0, n);
      pending_.erase(0, n);
    }
    return buf_;
  }

 private:
  // refill - one 76-character base64 line of pseudo-random bytes, or the end.
  void refill() {
    if (produced_ >= total_) {
      pending_ = "--=_big--\r\n";
      done_ = true;
      return;
    }
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pending_.clear();
    for (int i = 0; i < 19; ++i) {  // 19 quanta = 57 bytes = 76 characters
      state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;  // LCG (Knuth MMIX)
      const auto v = static_cast<std::uint32_t>(state_ >> 40);
      for (int k = 3; k >= 0; --k) {
        pending_ += kAlphabet[(v >> (6 * k)) & 63u];
      }
    }
    pending_ += "\r\n";
    produced_ += 78;
  }

  std::size_t total_;
  std::size_t chunk_;
  std::size_t produced_ = 0;
  bool done_ = false;
  std::uint64_t state_ = 42;
  std::string buf_;
  std::string pending_;
};

TEST(MimeMemory, FiftyMegabytesInBoundedMemory) {
  constexpr std::size_t kTotal = 50u * 1024 * 1024;
  constexpr std::size_t kChunk = 64 * 1024;
  Limits limits;
  limits.max_decoded_bytes = 64u * 1024 * 1024;  // decode all of it: the worst case

  CountingSink sink;
  MimeParser parser(limits, &sink);
  testing::ReaderToMime bridge(parser);
  MessageReader reader(limits, bridge);
  BigMessage message(kTotal, kChunk);

  const long before = vmRssKiB();
  if (before < 0) {
    GTEST_SKIP() << "/proc/self/status not readable";
  }
  long peak = before;
  std::size_t fed = 0;
  std::size_t chunks = 0;
  for (std::string_view chunk = message.next(); !chunk.empty(); chunk = message.next()) {
    reader.feed(chunk);
    fed += chunk.size();
    if (++chunks % 16 == 0) {  // every MiB
      peak = std::max(peak, vmRssKiB());
    }
  }
  reader.finish();
  parser.finish();
  peak = std::max(peak, vmRssKiB());

  const long growth_kib = peak - before;
  std::printf("[ MEMORY   ] streamed %zu bytes in %zu chunks; decoded %zu bytes; "
              "VmRSS before %ld KiB, peak %ld KiB, growth %ld KiB\n",
              fed, chunks, sink.bytes, before, peak, growth_kib);
  ::testing::Test::RecordProperty("vmrss_growth_kib", static_cast<int>(growth_kib));

  EXPECT_GE(fed, kTotal);
  EXPECT_EQ(sink.parts, 3u);
  EXPECT_GT(sink.bytes, kTotal / 2) << "the attachment was decoded";
  EXPECT_FALSE(parser.defects().any()) << parser.defects().describe();
  EXPECT_LT(growth_kib, 10 * 1024) << "got " << growth_kib << " KiB growth, want < 10 MiB";
}

}  // namespace
}  // namespace mw::message
