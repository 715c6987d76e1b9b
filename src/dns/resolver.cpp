#include "mailwarden/dns/resolver.h"

#include <utility>

#include "mailwarden/base/result.h"

namespace mw::dns {

std::string_view toString(Type t) noexcept {
  switch (t) {  // no default: -Wswitch reports a new enumerator
    case Type::A: return "A";
    case Type::AAAA: return "AAAA";
    case Type::TXT: return "TXT";
    case Type::MX: return "MX";
    case Type::PTR: return "PTR";
  }
  MW_UNREACHABLE("dns::Type out of range");
}

std::string_view toString(Status s) noexcept {
  switch (s) {
    case Status::Ok: return "ok";
    case Status::NxDomain: return "nxdomain";
    case Status::NoData: return "nodata";
    case Status::TempFail: return "tempfail";
    case Status::Refused: return "refused";
    case Status::Malformed: return "malformed";
    case Status::BadName: return "badname";
  }
  MW_UNREACHABLE("dns::Status out of range");
}

std::string_view toString(Outcome o) noexcept {
  switch (o) {
    case Outcome::Found: return "found";
    case Outcome::Absent: return "absent";
    case Outcome::Temporary: return "temporary";
    case Outcome::BadName: return "badname";
  }
  MW_UNREACHABLE("dns::Outcome out of range");
}

// The table of doc/ARCHITECTURE.md ("DNS"). A server that refuses, does not implement
// the query or sends an answer we cannot read is a failure of the lookup, not an answer
// about the name: asking later (or another server) may succeed, and treating it as
// "absent" would let a broken resolver turn DMARC off (fail open).
Outcome classify(Status s) noexcept {
  switch (s) {
    case Status::Ok: return Outcome::Found;
    case Status::NxDomain:
    case Status::NoData: return Outcome::Absent;
    case Status::TempFail:
    case Status::Refused:
    case Status::Malformed: return Outcome::Temporary;
    case Status::BadName: return Outcome::BadName;
  }
  MW_UNREACHABLE("dns::Status out of range");
}

// Rounded up, so remaining() == 0 exactly when exhausted(): a caller that sizes a
// timeout from remaining() never waits 0 ms while the budget still has time left.
std::chrono::milliseconds Budget::remaining() const noexcept {
  const Clock::time_point now = Clock::now();
  if (now >= deadline_) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::ceil<std::chrono::milliseconds>(deadline_ - now);
}

Resolver::~Resolver() = default;
Lookup::~Lookup() = default;

namespace {

class AnsweredLookup final : public Lookup {
 public:
  explicit AnsweredLookup(Answer answer) : answer_(std::move(answer)) {}
  const Answer& wait() override { return answer_; }
  bool ready() const noexcept override { return true; }

 private:
  Answer answer_;
};

}  // namespace

LookupPtr answeredLookup(Answer answer) {
  return std::make_shared<AnsweredLookup>(std::move(answer));
}

LookupPtr Resolver::start(std::string_view name, Type type, const Budget& budget) {
  return answeredLookup(query(name, type, budget));
}

// RFC 1035 §2.3.4: labels 1..63 octets, a name at most 255 octets on the wire, which is
// 253 in text without the trailing dot. Any octet is allowed inside a label (RFC 2181
// §11); the resolvers escape what a text API would misread (names.h). The root alone
// (".") is a name.
bool isQueryableName(std::string_view name) noexcept {
  if (name == ".") {
    return true;
  }
  if (!name.empty() && name.back() == '.') {
    name.remove_suffix(1);
  }
  if (name.empty() || name.size() > 253) {
    return false;
  }
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) {
        return false;
      }
      label = 0;
      continue;
    }
    if (++label > 63) {
      return false;
    }
  }
  return label > 0;
}

}  // namespace mw::dns
