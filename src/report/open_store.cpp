#include "mailwarden/report/open_store.h"

#include <string_view>

#include "mailwarden/report/redis_store.h"

namespace mw::report {

Result<std::unique_ptr<Store>> openStore(const std::string& spec) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (spec.starts_with(kSqlite)) {
    Result<std::unique_ptr<SqliteStore>> s = SqliteStore::open(spec.substr(kSqlite.size()));
    if (!s) {
      return fail(s.error());
    }
    return std::unique_ptr<Store>(std::move(*s));
  }
  if (spec.starts_with("redis://") || spec.starts_with("redis+unix://")) {
    Result<std::unique_ptr<RedisStore>> s = RedisStore::open(spec);
    if (!s) {
      return fail(s.error());
    }
    return std::unique_ptr<Store>(std::move(*s));
  }
  return fail(Errc::Invalid, "unsupported store " + spec);
}

}  // namespace mw::report
