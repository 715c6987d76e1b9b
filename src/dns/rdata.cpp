#include "dns/rdata.h"

#include <algorithm>
#include <string>

#include "dns/names.h"
#include "mailwarden/base/result.h"

namespace mw::dns::detail {

int rrType(Type t) noexcept {
  switch (t) {
    case Type::A: return 1;
    case Type::AAAA: return 28;
    case Type::TXT: return 16;
    case Type::MX: return 15;
    case Type::PTR: return 12;
  }
  MW_UNREACHABLE("dns::Type out of range");
}

bool appendRdata(Type type, const std::uint8_t* data, std::size_t size, Answer* out) {
  switch (type) {
    case Type::A: {
      if (size != 4) {
        return false;
      }
      std::array<std::uint8_t, 4> a{};
      std::copy_n(data, 4, a.begin());
      out->a.push_back(a);
      return true;
    }
    case Type::AAAA: {
      if (size != 16) {
        return false;
      }
      std::array<std::uint8_t, 16> a{};
      std::copy_n(data, 16, a.begin());
      out->aaaa.push_back(a);
      return true;
    }
    case Type::TXT: {
      // One or more <length><octets>, concatenated (RFC 7208 §3.3). No strings at all is
      // not a TXT record (RFC 1035 §3.3.14 says one or more).
      if (size == 0) {
        return false;
      }
      std::string txt;
      std::size_t pos = 0;
      while (pos < size) {
        const std::size_t len = data[pos];
        if (pos + 1 + len > size) {
          return false;
        }
        txt.append(reinterpret_cast<const char*>(data + pos + 1), len);
        pos += 1 + len;
      }
      out->txt.push_back(std::move(txt));
      return true;
    }
    case Type::MX: {
      if (size < 3) {
        return false;
      }
      std::size_t used = 0;
      std::optional<std::string> name = nameFromWire(data + 2, size - 2, &used);
      if (!name || used != size - 2) {
        return false;
      }
      const auto pref = static_cast<std::uint16_t>((data[0] << 8) | data[1]);
      out->mx.push_back(Mx{pref, std::move(*name)});
      return true;
    }
    case Type::PTR: {
      std::size_t used = 0;
      std::optional<std::string> name = nameFromWire(data, size, &used);
      if (!name || used != size) {
        return false;
      }
      out->ptr.push_back(std::move(*name));
      return true;
    }
  }
  MW_UNREACHABLE("dns::Type out of range");
}

namespace {

Answer status(Status s, std::string why, bool secure) {
  Answer a;
  a.status = s;
  a.why = std::move(why);
  a.secure = secure;
  return a;
}

}  // namespace

Answer fromUnbound(Type type, const ub_result& r) {
  const bool secure = r.secure != 0;
  if (r.bogus != 0) {
    // RFC 4035 §5.5: bogus data is never used; a validating server says SERVFAIL.
    std::string why = "DNSSEC bogus";
    if (r.why_bogus != nullptr) {
      why += ": ";
      why += r.why_bogus;
    }
    return status(Status::TempFail, std::move(why), false);
  }
  switch (r.rcode) {
    case 0: break;  // NOERROR: data or NODATA, below
    case 3: return status(Status::NxDomain, "", secure);
    case 2: return status(Status::TempFail, "SERVFAIL", false);
    case 1: return status(Status::Refused, "FORMERR", false);
    case 4: return status(Status::Refused, "NOTIMP", false);
    case 5: return status(Status::Refused, "REFUSED", false);
    default: return status(Status::Refused, "RCODE " + std::to_string(r.rcode), false);
  }
  if (r.havedata == 0 || r.data == nullptr || r.data[0] == nullptr) {
    return status(Status::NoData, "", secure);  // RFC 2308 §2.2
  }
  Answer out;
  out.secure = secure;
  for (std::size_t i = 0; r.data[i] != nullptr; ++i) {
    const int len = r.len != nullptr ? r.len[i] : -1;
    if (len < 0 || !appendRdata(type, reinterpret_cast<const std::uint8_t*>(r.data[i]),
                                static_cast<std::size_t>(len), &out)) {
      return status(Status::Malformed, "bad " + std::string(toString(type)) + " record", secure);
    }
  }
  out.status = Status::Ok;
  return out;
}

}  // namespace mw::dns::detail
