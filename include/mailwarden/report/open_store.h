// report/open_store.h — the Store a `dmarc.reports.store` value names, for the programs
// (scan::reportsFor for the milter and configtest, `mailwarden dmarc-report`).
//
// "sqlite:ABSOLUTE_PATH" → SqliteStore::open(PATH) (created when missing);
// "redis://..." and "redis+unix://..." → RedisStore::open(URL) (connects: a Redis that
// does not answer is an error). Anything else is Errc::Invalid ("unsupported store ...").
// Errors are the store's (they name the path or the URL, never a password).
// Thread-safety: reentrant. Never throws except std::bad_alloc.
#pragma once

#include <memory>
#include <string>

#include "mailwarden/base/result.h"
#include "mailwarden/report/store.h"

namespace mw::report {

[[nodiscard]] Result<std::unique_ptr<Store>> openStore(const std::string& spec);

}  // namespace mw::report
