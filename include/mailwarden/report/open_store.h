// report/open_store.h — the Store a `dmarc.reports.store` value names, for the programs
// that open one outside a scan::Snapshot (`mailwarden dmarc-report`).
//
// "sqlite:ABSOLUTE_PATH" → SqliteStore::open(PATH) (created when missing). Anything else
// is Errc::Invalid ("unsupported store ..."): config/ accepts nothing else yet; a new
// kind of store (Redis) adds its scheme here. Errors are the store's (they name the
// path). Thread-safety: reentrant. Never throws except std::bad_alloc.
#pragma once

#include <memory>
#include <string>

#include "mailwarden/base/result.h"
#include "mailwarden/report/store.h"

namespace mw::report {

[[nodiscard]] Result<std::unique_ptr<Store>> openStore(const std::string& spec);

}  // namespace mw::report
