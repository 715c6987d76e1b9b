// dns/zone.h — a Resolver that answers from RFC 1035 master files and from records
// added in code, with no network: tests, `mailwarden check --dns-zone FILE`, and the
// `dns.zone_files` setting.
//
// Master files are parsed with libldns ($ORIGIN, $TTL, multi-string TXT, \DDD escapes).
// Two comment pragmas, which nsd ignores, inject failures (DESIGN.md):
//   ;@timeout NAME [TYPE...]    queries for NAME (or only these types) time out
//   ;@servfail NAME [TYPE...]   queries for NAME (or only these types) get SERVFAIL
// A name absent from every file does not exist (NXDOMAIN); a name that has records of
// other types (or is an empty non-terminal: a parent of a name with records) is NODATA.
// CNAMEs are followed (at most 8); a loop or a longer chain is Status::Malformed (the
// data is broken; asking again gives the same). Injected failures apply to every name on
// a CNAME chain; a timeout wins over a servfail. Wildcards are not expanded ('*' is a
// plain label). $INCLUDE is refused (a zone file never makes us read another file).
// Thread-safety: load and add before sharing; query() is then safe from any thread.
// A timeout is answered at once as TempFail("timeout") — tests need no real waiting.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mailwarden/base/result.h"
#include "mailwarden/dns/resolver.h"

namespace mw::dns {

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
  void setTimeout(std::string_view name, std::vector<Type> types = {});
  void setServfail(std::string_view name, std::vector<Type> types = {});

  Answer query(std::string_view name, Type type, const Budget& budget) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mw::dns
