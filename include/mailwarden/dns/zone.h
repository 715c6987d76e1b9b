// dns/zone.h — a Resolver that answers from RFC 1035 master files and from records
// added in code, with no network: tests, `mailwarden check --dns-zone FILE`, and the
// `dns.zone_files` setting.
//
// Master files are parsed with libldns ($ORIGIN, $TTL, multi-string TXT, \DDD escapes).
// Comment pragmas, which nsd ignores, inject failures (DESIGN.md, doc/ARCHITECTURE.md):
//   ;@timeout NAME [TYPE...]    queries for NAME (or only these types) time out
//   ;@servfail NAME [TYPE...]   ... get SERVFAIL           (Status::TempFail)
//   ;@refused NAME [TYPE...]    ... get REFUSED            (Status::Refused)
//   ;@notimp NAME [TYPE...]     ... get NOTIMP             (Status::Refused)
//   ;@formerr NAME [TYPE...]    ... get FORMERR            (Status::Refused)
//   ;@malformed NAME [TYPE...]  ... get an answer that does not parse (Status::Malformed)
// A name absent from every file does not exist (NXDOMAIN); a name that has records of
// other types (or is an empty non-terminal: a parent of a name with records) is NODATA.
// CNAMEs are followed (at most 8); a loop or a longer chain is Status::TempFail
// ("CNAME loop ..."), what UnboundResolver reports for the SERVFAIL a recursive server
// gives such a chain: both resolvers put it in the same class (Outcome::Temporary).
// Injected failures apply to every name on a CNAME chain; when several are set for one
// name the first in the list above wins. Wildcards are not expanded ('*' is a plain
// label). $INCLUDE is refused (a zone file never makes us read another file).
// Thread-safety: load and add before sharing; query() is then safe from any thread.
// A timeout is answered at once as TempFail("timeout") — tests need no real waiting.
#pragma once

#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/dns/resolver.h"

namespace mw::dns {

// A failure a test can inject for a name (the pragmas above), in precedence order.
enum class Injected { Timeout, Servfail, Refused, NotImp, FormErr, Malformed };
inline constexpr int kInjectedKinds = 6;

class ZoneResolver final : public Resolver {
 public:
  ZoneResolver();
  ~ZoneResolver() override;
  ZoneResolver(const ZoneResolver&) = delete;
  ZoneResolver& operator=(const ZoneResolver&) = delete;

  // Loads a master file; errors carry file:line. Records accumulate across files.
  [[nodiscard]] Result<void> loadFile(const std::string& path);
  // The same from text (`origin` for relative names, may be empty); `label` names it in errors.
  [[nodiscard]] Result<void> loadText(std::string_view text, const std::string& label,
                                      std::string_view origin = "");

  // Records added in code (the SPF suite's zonedata). `name` absolute.
  void addTxt(std::string_view name, std::string txt);  // one record, strings concatenated
  [[nodiscard]] Result<void> addA(std::string_view name, std::string_view address);     // "192.0.2.1"
  [[nodiscard]] Result<void> addAaaa(std::string_view name, std::string_view address);  // "2001:db8::1"
  void addMx(std::string_view name, std::uint16_t preference, std::string_view exchange);
  void addPtr(std::string_view name, std::string_view target);
  void addCname(std::string_view name, std::string_view target);
  // Makes `name` exist with no records (NODATA for every type).
  void addEmpty(std::string_view name);
  // Failure injection; an empty `types` means every type.
  void inject(Injected what, std::string_view name, std::vector<Type> types = {});
  void setTimeout(std::string_view name, std::vector<Type> types = {}) {
    inject(Injected::Timeout, name, std::move(types));
  }
  void setServfail(std::string_view name, std::vector<Type> types = {}) {
    inject(Injected::Servfail, name, std::move(types));
  }

  Answer query(std::string_view name, Type type, const Budget& budget) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::dns
