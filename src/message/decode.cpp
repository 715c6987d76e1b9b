#include "mailwarden/message/decode.h"

#include "mailwarden/base/ascii.h"
#include "message/utf8.h"

#include <array>
#include <cerrno>
#include <map>
#include <optional>
#include <utility>

namespace mw::message {
namespace {

// --- base64 ----------------------------------------------------------------------

constexpr std::int8_t kB64Junk = -1;
constexpr std::int8_t kB64Space = -2;
constexpr std::int8_t kB64Pad = -3;

// makeBase64Table - RFC 2045 Table 1, plus markers for whitespace and '='.
constexpr std::array<std::int8_t, 256> makeBase64Table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) {
    v = kB64Junk;
  }
  for (int i = 0; i < 26; ++i) {
    t[static_cast<std::size_t>('A' + i)] = static_cast<std::int8_t>(i);
    t[static_cast<std::size_t>('a' + i)] = static_cast<std::int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) {
    t[static_cast<std::size_t>('0' + i)] = static_cast<std::int8_t>(52 + i);
  }
  t['+'] = 62;
  t['/'] = 63;
  t[' '] = t['\t'] = t['\r'] = t['\n'] = kB64Space;
  t['='] = kB64Pad;
  return t;
}
constexpr std::array<std::int8_t, 256> kBase64 = makeBase64Table();

// hexValue - value of an ASCII hex digit (either case), or -1.
int hexValue(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

// A run of held whitespace longer than this cannot be a legal QP line (76 chars,
// §6.7 rule 5), so it is let go: state stays bounded whatever the input.
constexpr std::size_t kMaxHeldWhitespace = 256;

// --- charsets ----------------------------------------------------------------------

struct Alias {
  std::string_view name;    // lower case, as mailers write it
  std::string_view target;  // what glibc iconv calls it; empty = UTF-8 identity
};

// The names real mail uses that iconv either does not know or maps to a narrower
// charset than senders mean (WHATWG Encoding and MUAs treat gb2312 as GBK/GB18030,
// ks_c_5601-1987 as CP949 and shift_jis as Windows-31J).
constexpr Alias kAliases[] = {
    {"utf-8", ""},
    {"utf8", ""},
    {"us-ascii", ""},
    {"ascii", ""},
    {"ansi_x3.4-1968", ""},
    {"iso646-us", ""},
    {"latin1", "ISO-8859-1"},
    {"latin-1", "ISO-8859-1"},
    {"l1", "ISO-8859-1"},
    {"iso-8859-1", "ISO-8859-1"},
    {"iso8859-1", "ISO-8859-1"},
    {"iso_8859-1", "ISO-8859-1"},
    {"windows-1252", "CP1252"},
    {"cp1252", "CP1252"},
    {"x-cp1252", "CP1252"},
    {"win-1252", "CP1252"},
    {"gb2312", "GB18030"},
    {"gbk", "GB18030"},
    {"x-gbk", "GB18030"},
    {"cp936", "GB18030"},
    {"euc-cn", "GB18030"},
    {"ks_c_5601-1987", "CP949"},
    {"ks_c_5601", "CP949"},
    {"euc-kr", "CP949"},
    {"shift_jis", "CP932"},
    {"shift-jis", "CP932"},
    {"sjis", "CP932"},
    {"x-sjis", "CP932"},
    {"iso-8859-8-i", "ISO-8859-8"},
    {"utf-7", "UTF-7"},
    {"unicode-1-1-utf-7", "UTF-7"},
};

// isPlainCharsetName - RFC 2978 mime-charset characters only, bounded length; keeps
// iconv suffixes such as "//TRANSLIT" or "//IGNORE" out of iconv_open.
bool isPlainCharsetName(std::string_view s) noexcept {
  if (s.empty() || s.size() > 40) {
    return false;
  }
  for (const char c : s) {
    const bool ok = ascii::isAlpha(c) || ascii::isDigit(c) || c == '-' || c == '_' || c == '.' ||
                    c == ':' || c == '+' || c == '(' || c == ')';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// --- header parameters -----------------------------------------------------------

// skipComment - s[i] == '('; returns the index after the matching ')', honouring nested
// comments and quoted pairs (RFC 5322 §3.2.2). Unterminated: the end of s.
std::size_t skipComment(std::string_view s, std::size_t i) noexcept {
  int depth = 0;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (--depth == 0) {
        return i + 1;
      }
    }
  }
  return s.size();
}

// skipCfws - skips whitespace (folding included) and comments.
std::size_t skipCfws(std::string_view s, std::size_t i) noexcept {
  while (i < s.size()) {
    if (ascii::isWsp(s[i])) {
      ++i;
    } else if (s[i] == '(') {
      i = skipComment(s, i);
    } else {
      break;
    }
  }
  return i;
}

// readQuoted - s[i] == '"'; appends the unquoted content to out and returns the index
// after the closing quote (or the end of s when unterminated).
std::size_t readQuoted(std::string_view s, std::size_t i, std::string& out) {
  for (++i; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '"') {
      return i + 1;
    }
    if (c == '\\' && i + 1 < s.size()) {
      ++i;
      out += s[i];
    } else if (c != '\r' && c != '\n') {  // folding inside a quoted string is unfolded
      out += c;
    }
  }
  return s.size();
}

// percentDecode - RFC 2231 §4 ext-octet: "%" 2HEXDIG. Other '%' are kept as written.
std::string percentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hexValue(s[i + 1]);
      const int lo = hexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

// toUtf8 - converts bytes in charset to UTF-8; an unknown or empty charset keeps valid
// UTF-8 and replaces the rest with U+FFFD.
std::string toUtf8(std::string_view charset, std::string_view bytes) {
  std::string out;
  Result<CharsetConverter> conv = CharsetConverter::open(charset);
  if (!conv) {
    utf8::appendSanitized(bytes, out, /*keep_incomplete=*/false, nullptr);
    return out;
  }
  conv->feed(bytes, out);
  conv->finish(out);
  return out;
}

// --- RFC 2047 words --------------------------------------------------------------

struct EncodedWord {
  std::string_view charset;   // language suffix (RFC 2231 §5) removed
  std::string_view encoding;
  std::string_view text;
  std::size_t end = 0;        // index after "?="
};

// isWordChar - printable ASCII other than '?' (RFC 2047 §2 encoded-text; also a
// sufficient check for the charset and encoding tokens).
constexpr bool isWordChar(char c) noexcept { return c > 0x20 && c < 0x7F && c != '?'; }

// parseWord - an encoded word "=?charset?encoding?text?=" starting at s[i] ("=?").
std::optional<EncodedWord> parseWord(std::string_view s, std::size_t i) noexcept {
  std::size_t p = i + 2;
  const std::size_t cs_start = p;
  while (p < s.size() && isWordChar(s[p])) {
    ++p;
  }
  if (p == cs_start || p >= s.size() || s[p] != '?') {
    return std::nullopt;
  }
  std::string_view charset = s.substr(cs_start, p - cs_start);
  ++p;
  const std::size_t enc_start = p;
  while (p < s.size() && isWordChar(s[p])) {
    ++p;
  }
  if (p == enc_start || p >= s.size() || s[p] != '?') {
    return std::nullopt;
  }
  const std::string_view encoding = s.substr(enc_start, p - enc_start);
  ++p;
  const std::size_t text_start = p;
  while (p < s.size() && isWordChar(s[p])) {
    ++p;
  }
  if (p + 1 >= s.size() || s[p] != '?' || s[p + 1] != '=') {
    return std::nullopt;
  }
  if (const std::size_t star = charset.find('*'); star != std::string_view::npos) {
    charset = charset.substr(0, star);  // RFC 2231 §5: charset*language
  }
  return EncodedWord{charset, encoding, s.substr(text_start, p - text_start), p + 2};
}

// decodeWordBytes - the octets an encoded word stands for, or nullopt when its
// encoded-text does not decode (RFC 2047 §4.1 B, §4.2 Q).
std::optional<std::string> decodeWordBytes(const EncodedWord& w) {
  std::string out;
  if (ascii::iequals(w.encoding, "B")) {
    // Missing padding is common in the wild and unambiguous: add it before decoding.
    std::string text(w.text);
    if (text.size() % 4 == 2) {
      text += "==";
    } else if (text.size() % 4 == 3) {
      text += '=';
    }
    Base64Decoder b64;
    b64.feed(text, out);
    b64.finish(out);
    if (b64.defects().any()) {
      return std::nullopt;
    }
    return out;
  }
  if (ascii::iequals(w.encoding, "Q")) {
    for (std::size_t i = 0; i < w.text.size(); ++i) {
      const char c = w.text[i];
      if (c == '_') {
        out += ' ';  // §4.2 (2): "_" always represents hexadecimal 20
      } else if (c == '=') {
        const int hi = i + 1 < w.text.size() ? hexValue(w.text[i + 1]) : -1;
        const int lo = i + 2 < w.text.size() ? hexValue(w.text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          return std::nullopt;
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      } else {
        out += c;
      }
    }
    return out;
  }
  return std::nullopt;
}

bool allWhitespace(std::string_view s) noexcept {
  for (const char c : s) {
    if (!ascii::isWsp(c)) {
      return false;
    }
  }
  return true;
}

// appendRawText - header text outside encoded words: RFC 6532 allows UTF-8; anything
// else is replaced so the result is always valid UTF-8.
void appendRawText(std::string_view s, std::string& out, Defects& defects) {
  bool bad = false;
  utf8::appendSanitized(s, out, /*keep_incomplete=*/false, &bad);
  if (bad) {
    defects.set(Defect::EightBitInHeader);
  }
}

}  // namespace

// ===================================================================================
// Base64Decoder

void Base64Decoder::feed(std::string_view in, std::string& out) {
  // Fast path: at a quantum boundary with no '=' seen, four alphabet characters are
  // exactly three bytes (§6.8), so whole quanta are decoded with four table lookups
  // into a buffer sized once. The first character outside the alphabet (line break,
  // padding, junk) hands over to the byte-wise loop below, which keeps every defect
  // rule; it returns here at the next quantum boundary.
  const std::size_t start = out.size();
  out.resize(start + in.size() / 4 * 3 + 3);
  char* w = out.data() + start;
  std::size_t i = 0;
  while (i < in.size()) {
    if (bits_ == 0 && quantum_ == 0 && pad_ == 0) {
      while (i + 4 <= in.size()) {
        const auto* p = reinterpret_cast<const unsigned char*>(in.data() + i);
        const std::int8_t a = kBase64[p[0]], b = kBase64[p[1]], c = kBase64[p[2]], d = kBase64[p[3]];
        if ((a | b | c | d) < 0) break;  // a negative entry: not a data character
        const std::uint32_t v = (static_cast<std::uint32_t>(a) << 18) | (static_cast<std::uint32_t>(b) << 12) |
                                (static_cast<std::uint32_t>(c) << 6) | static_cast<std::uint32_t>(d);
        w[0] = static_cast<char>(v >> 16);
        w[1] = static_cast<char>((v >> 8) & 0xFFu);
        w[2] = static_cast<char>(v & 0xFFu);
        w += 3;
        i += 4;
      }
      if (i >= in.size()) break;
    }
    const char ch = in[i++];
    const std::int8_t v = kBase64[static_cast<unsigned char>(ch)];
    if (v >= 0) {
      if (pad_ > 0) {
        // §6.8: '=' marks the end of the encoded data. Data after it is a second
        // encoding glued on (some mailers concatenate); decode it, but flag.
        defects_.set(Defect::InvalidBase64);
        acc_ = 0;
        bits_ = 0;
        quantum_ = 0;
        pad_ = 0;
      }
      acc_ = (acc_ << 6) | static_cast<std::uint32_t>(v);
      bits_ += 6;
      if (bits_ >= 8) {
        bits_ -= 8;
        *w++ = static_cast<char>((acc_ >> bits_) & 0xFFu);
      }
      acc_ &= (1u << bits_) - 1u;
      quantum_ = (quantum_ + 1) % 4;  // four characters are 24 bits: bits_ is 0 again
      continue;
    }
    if (v == kB64Space) {
      continue;
    }
    if (v == kB64Pad) {
      // Valid padding: "xx==" or "xxx=" (§6.8). Anything else is junk.
      const bool first_pad_ok = pad_ == 0 && quantum_ >= 2;
      const bool second_pad_ok = pad_ == 1 && quantum_ == 2;
      if (first_pad_ok || second_pad_ok) {
        ++pad_;
      } else {
        defects_.set(Defect::InvalidBase64);
      }
      continue;
    }
    defects_.set(Defect::InvalidBase64);  // outside the alphabet: ignored (§6.8)
  }
  // At most one byte per 4/3 input characters was written, plus two from bits carried
  // in: the buffer sized above was enough; drop what was not used.
  out.resize(static_cast<std::size_t>(w - out.data()));
}

void Base64Decoder::finish(std::string& /*out*/) {
  // Whole bytes were emitted as soon as they were complete; what is left are at most
  // 6 bits that never make a byte. A quantum that is not 4 characters (with padding)
  // means the encoder stopped early.
  const bool complete = (pad_ == 0 && quantum_ == 0) || (quantum_ + pad_ == 4);
  if (!complete) {
    defects_.set(Defect::InvalidBase64);
  }
  acc_ = 0;
  bits_ = 0;
  pad_ = 0;
  quantum_ = 0;
}

// ===================================================================================
// QuotedPrintableDecoder

void QuotedPrintableDecoder::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    switch (state_) {
      case State::Text:
        if ((c == ' ' || c == '\t') && pending_.empty()) {
          // Whitespace followed, in this chunk, by anything but a line break is not
          // trailing (rule 3) and is copied with the text: the state machine below
          // holds each space back and releases it on the next byte, once per word of a
          // text line. Runs long enough to be a defect still take that path.
          std::size_t j = i + 1;
          while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
          if (j < in.size() && in[j] != '\r' && in[j] != '\n' && j - i <= kMaxHeldWhitespace) {
            out.append(in.data() + i, j - i);
            i = j;
            break;
          }
        }
        if (c == ' ' || c == '\t') {
          pending_ += c;
          if (pending_.size() > kMaxHeldWhitespace) {
            defects_.set(Defect::InvalidQuotedPrintable);  // a line no encoder writes
            out += pending_;
            pending_.clear();
          }
        } else if (c == '\r') {
          state_ = State::Cr;
        } else if (c == '\n') {
          pending_.clear();  // rule 3: trailing whitespace is deleted
          out += "\r\n";
        } else if (c == '=') {
          out += pending_;
          pending_.clear();
          state_ = State::Eq;
        } else {
          out += pending_;
          pending_.clear();
          // A run of literal characters (rule 2) is copied in one append, not a byte
          // at a time: only whitespace, line breaks and '=' need the state machine.
          std::size_t j = i + 1;
          while (j < in.size() && in[j] != '=' && in[j] != ' ' && in[j] != '\t' && in[j] != '\r' && in[j] != '\n') ++j;
          out.append(in.data() + i, j - i);
          i = j;
          break;
        }
        ++i;
        break;
      case State::Cr:
        if (c == '\n') {
          pending_.clear();
          out += "\r\n";
          ++i;
        } else {
          out += pending_;  // a bare CR is text; the whitespace before it was not trailing
          pending_.clear();
          out += '\r';
        }
        state_ = State::Text;
        break;
      case State::Eq:
        if (hexValue(c) >= 0) {
          hex_ = c;
          state_ = State::EqHex;
          ++i;
        } else if (c == '\r') {
          state_ = State::EqCr;
          ++i;
        } else if (c == '\n') {
          state_ = State::Text;  // soft line break (rule 5)
          ++i;
        } else if (c == ' ' || c == '\t') {
          pending_ += c;
          state_ = State::EqSpace;
          ++i;
        } else {
          defects_.set(Defect::InvalidQuotedPrintable);
          out += '=';
          state_ = State::Text;  // reprocess c as text
        }
        break;
      case State::EqHex:
        if (hexValue(c) >= 0) {
          out += static_cast<char>(hexValue(hex_) * 16 + hexValue(c));
          ++i;
        } else {
          defects_.set(Defect::InvalidQuotedPrintable);
          out += '=';
          out += hex_;
        }
        state_ = State::Text;
        break;
      case State::EqSpace:
        if (c == ' ' || c == '\t') {
          pending_ += c;
          if (pending_.size() > kMaxHeldWhitespace) {
            defects_.set(Defect::InvalidQuotedPrintable);
            out += '=';
            out += pending_;
            pending_.clear();
            state_ = State::Text;
          }
          ++i;
        } else if (c == '\r') {
          state_ = State::EqCr;
          ++i;
        } else if (c == '\n') {
          pending_.clear();  // "=" + trailing whitespace: still a soft break (rule 3)
          state_ = State::Text;
          ++i;
        } else {
          defects_.set(Defect::InvalidQuotedPrintable);
          out += '=';
          out += pending_;
          pending_.clear();
          state_ = State::Text;
        }
        break;
      case State::EqCr:
        if (c == '\n') {
          pending_.clear();
          state_ = State::Text;
          ++i;
        } else {
          defects_.set(Defect::InvalidQuotedPrintable);
          out += '=';
          out += pending_;
          out += '\r';
          pending_.clear();
          state_ = State::Text;
        }
        break;
    }
  }
}

void QuotedPrintableDecoder::finish(std::string& out) {
  switch (state_) {
    case State::Text:
    case State::Eq:       // "=" at the very end: a soft break before nothing
    case State::EqSpace:
    case State::EqCr:
      break;              // trailing whitespace at the end of the data is dropped
    case State::Cr:
      out += pending_;
      out += '\r';
      break;
    case State::EqHex:
      defects_.set(Defect::InvalidQuotedPrintable);
      out += '=';
      out += hex_;
      break;
  }
  pending_.clear();
  state_ = State::Text;
}

// ===================================================================================
// CharsetConverter

Result<CharsetConverter> CharsetConverter::open(std::string_view charset) {
  std::string name = ascii::lower(ascii::trim(charset));
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
    name = name.substr(1, name.size() - 2);
  }
  if (name.empty()) {
    return CharsetConverter(reinterpret_cast<iconv_t>(-1), /*identity=*/true);
  }
  std::string target = name;
  for (const Alias& a : kAliases) {
    if (a.name == name) {
      if (a.target.empty()) {
        return CharsetConverter(reinterpret_cast<iconv_t>(-1), /*identity=*/true);
      }
      target = std::string(a.target);
      break;
    }
  }
  if (!isPlainCharsetName(target)) {
    return fail(Errc::Invalid, "not a charset name: " + name);
  }
  iconv_t cd = iconv_open("UTF-8", target.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return fail(Errc::Invalid, "unknown charset: " + name);
  }
  return CharsetConverter(cd, /*identity=*/false);
}

CharsetConverter::CharsetConverter(CharsetConverter&& other) noexcept
    : cd_(std::exchange(other.cd_, reinterpret_cast<iconv_t>(-1))),
      identity_(other.identity_),
      carry_(std::move(other.carry_)),
      defects_(other.defects_) {}

CharsetConverter& CharsetConverter::operator=(CharsetConverter&& other) noexcept {
  if (this != &other) {
    if (cd_ != reinterpret_cast<iconv_t>(-1)) {
      iconv_close(cd_);
    }
    cd_ = std::exchange(other.cd_, reinterpret_cast<iconv_t>(-1));
    identity_ = other.identity_;
    carry_ = std::move(other.carry_);
    defects_ = other.defects_;
  }
  return *this;
}

CharsetConverter::~CharsetConverter() {
  if (cd_ != reinterpret_cast<iconv_t>(-1)) {
    iconv_close(cd_);
  }
}

void CharsetConverter::feed(std::string_view in, std::string& out) {
  // A sequence cut at the end of the previous chunk is completed with this one. The
  // carry is a few bytes, so the copy is small.
  std::string joined;
  if (!carry_.empty()) {
    joined = carry_;
    joined.append(in);
    carry_.clear();
    in = joined;
  }
  if (identity_) {
    bool bad = false;
    const std::size_t keep = utf8::appendSanitized(in, out, /*keep_incomplete=*/true, &bad);
    if (bad) {
      defects_.set(Defect::InvalidCharset);
    }
    carry_.assign(in.substr(in.size() - keep));
    return;
  }
  // glibc iconv(3) takes char** for input although it does not write through it.
  char* src = const_cast<char*>(in.data());
  std::size_t src_left = in.size();
  std::array<char, 4096> buf;
  while (src_left > 0) {
    char* dst = buf.data();
    std::size_t dst_left = buf.size();
    const std::size_t rc = iconv(cd_, &src, &src_left, &dst, &dst_left);
    const int err = errno;
    out.append(buf.data(), buf.size() - dst_left);
    if (rc != static_cast<std::size_t>(-1)) {
      continue;
    }
    if (err == E2BIG) {
      continue;  // output buffer full: it was appended, go on
    }
    if (err == EINVAL && src_left <= 8) {
      carry_.assign(src, src_left);  // incomplete sequence at the end: wait for more
      return;
    }
    // EILSEQ (or a long EINVAL, which a real multibyte sequence never is): one U+FFFD
    // per skipped byte, then resynchronise on the next byte.
    defects_.set(Defect::InvalidCharset);
    out.append(utf8::kReplacement);
    ++src;
    --src_left;
  }
}

void CharsetConverter::finish(std::string& out) {
  if (!carry_.empty()) {
    defects_.set(Defect::InvalidCharset);  // the input ended inside a sequence
    out.append(utf8::kReplacement);
    carry_.clear();
  }
  if (!identity_ && cd_ != reinterpret_cast<iconv_t>(-1)) {
    // Return to the initial shift state (ISO-2022-JP) so the converter can be reused.
    std::array<char, 64> buf;
    char* dst = buf.data();
    std::size_t dst_left = buf.size();
    iconv(cd_, nullptr, nullptr, &dst, &dst_left);
    out.append(buf.data(), buf.size() - dst_left);
  }
}

// ===================================================================================
// RFC 2047 and RFC 2231

std::string decodeHeaderValue(std::string_view in, Defects& defects) {
  std::string out;
  out.reserve(in.size());
  // A run of adjacent words in one charset, decoded to octets but not yet converted.
  std::optional<CharsetConverter> run_conv;
  std::string_view run_charset;
  std::string run_bytes;
  auto flushRun = [&] {
    if (run_conv) {
      run_conv->feed(run_bytes, out);
      run_conv->finish(out);
      defects.merge(run_conv->defects());
      run_conv.reset();
    }
    run_bytes.clear();
  };

  std::size_t text_start = 0;  // start of text not yet copied to out
  bool after_word = false;     // the last thing copied was a decoded word
  std::size_t i = 0;
  while (i + 1 < in.size()) {
    const std::size_t p = in.find("=?", i);
    if (p == std::string_view::npos) {
      break;
    }
    const std::optional<EncodedWord> w = parseWord(in, p);
    if (!w) {
      i = p + 1;
      continue;
    }
    const std::string_view between = in.substr(text_start, p - text_start);
    // §6.2: linear whitespace between two adjacent encoded words is ignored.
    if (!(after_word && allWhitespace(between))) {
      flushRun();
      appendRawText(between, out, defects);
    }
    const std::string_view verbatim = in.substr(p, w->end - p);
    std::optional<std::string> bytes = decodeWordBytes(*w);
    if (bytes && !(run_conv && ascii::iequals(run_charset, w->charset))) {
      flushRun();
      Result<CharsetConverter> conv = CharsetConverter::open(w->charset);
      if (conv) {
        run_conv.emplace(std::move(*conv));
        run_charset = w->charset;
      } else {
        defects.set(Defect::UnknownCharset);
        bytes.reset();
      }
    }
    if (bytes) {
      run_bytes += *bytes;
      after_word = true;
    } else {
      flushRun();
      defects.set(Defect::BadEncodedWord);
      appendRawText(verbatim, out, defects);
      after_word = false;
    }
    text_start = i = w->end;
  }
  flushRun();
  appendRawText(in.substr(text_start), out, defects);
  return out;
}

std::string headerParameter(std::string_view value, std::string_view name) {
  struct Section {
    bool extended = false;
    std::string text;
  };
  constexpr unsigned kMaxSections = 1000;  // RFC 2231 §3 sets no bound; we do

  std::optional<std::string> plain;
  std::optional<std::string> extended;
  std::map<unsigned, Section> sections;

  // Skip the main value (type/subtype or disposition type) up to the first ';'.
  std::size_t i = 0;
  while (i < value.size() && value[i] != ';') {
    if (value[i] == '"') {
      std::string ignored;
      i = readQuoted(value, i, ignored);
    } else if (value[i] == '(') {
      i = skipComment(value, i);
    } else {
      ++i;
    }
  }
  while (i < value.size()) {
    ++i;  // the ';'
    i = skipCfws(value, i);
    const std::size_t attr_start = i;
    while (i < value.size() && value[i] != '=' && value[i] != ';' && !ascii::isWsp(value[i]) &&
           value[i] != '(') {
      ++i;
    }
    const std::string attr = ascii::lower(value.substr(attr_start, i - attr_start));
    i = skipCfws(value, i);
    if (i >= value.size() || value[i] != '=') {
      while (i < value.size() && value[i] != ';') {  // not "attr=value": skip it
        ++i;
      }
      continue;
    }
    i = skipCfws(value, i + 1);
    std::string val;
    if (i < value.size() && value[i] == '"') {
      i = readQuoted(value, i, val);
      while (i < value.size() && value[i] != ';') {  // junk after the closing quote
        ++i;
      }
    } else {
      const std::size_t v_start = i;
      while (i < value.size() && value[i] != ';') {
        ++i;
      }
      std::string_view raw = ascii::trim(value.substr(v_start, i - v_start));
      if (const std::size_t c = raw.find(" ("); c != std::string_view::npos) {
        raw = ascii::trim(raw.substr(0, c));  // a trailing comment
      }
      val = std::string(raw);
    }
    if (attr.size() < name.size() || !ascii::iequals(std::string_view(attr).substr(0, name.size()), name)) {
      continue;
    }
    const std::string_view rest = std::string_view(attr).substr(name.size());
    if (rest.empty()) {
      if (!plain) {
        plain = std::move(val);
      }
      continue;
    }
    if (rest == "*") {
      if (!extended) {
        extended = std::move(val);
      }
      continue;
    }
    // "*N" or "*N*" (RFC 2231 §3, §4.1).
    std::size_t k = 1;
    unsigned index = 0;
    while (k < rest.size() && ascii::isDigit(rest[k]) && index < kMaxSections) {
      index = index * 10 + static_cast<unsigned>(rest[k] - '0');
      ++k;
    }
    const bool has_digits = k > 1;
    const bool star = k + 1 == rest.size() && rest[k] == '*';
    if (rest[0] != '*' || !has_digits || index >= kMaxSections || (k != rest.size() && !star)) {
      continue;
    }
    if (sections.find(index) == sections.end()) {
      sections[index] = Section{star, std::move(val)};
    }
  }

  // extValue - charset'language'octets (RFC 2231 §4): returns charset, strips language.
  auto splitExt = [](std::string_view v, std::string_view& charset) -> std::string_view {
    const std::size_t q1 = v.find('\'');
    if (q1 == std::string_view::npos) {
      return v;
    }
    const std::size_t q2 = v.find('\'', q1 + 1);
    if (q2 == std::string_view::npos) {
      return v;
    }
    charset = v.substr(0, q1);
    return v.substr(q2 + 1);
  };

  if (sections.count(0) != 0) {
    std::string_view charset;
    std::string bytes;
    for (unsigned n = 0; n < kMaxSections; ++n) {
      const auto it = sections.find(n);
      if (it == sections.end()) {
        break;  // continuations end at the first gap (§3)
      }
      std::string_view text = it->second.text;
      if (it->second.extended) {
        if (n == 0) {
          text = splitExt(text, charset);  // only the first section names the charset
        }
        bytes += percentDecode(text);
      } else {
        bytes += text;
      }
    }
    return toUtf8(charset, bytes);
  }
  if (extended) {
    std::string_view charset;
    const std::string_view text = splitExt(*extended, charset);
    return toUtf8(charset, percentDecode(text));
  }
  return plain.value_or(std::string());
}

}  // namespace mw::message
