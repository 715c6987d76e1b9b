// milter/milter.h — mailwarden as a libmilter filter: `mailwarden run`.
//
// run() loads the configuration, opens the socket as root, drops to the configured
// user, and serves the MTA until SIGTERM/SIGINT; SIGHUP reloads the configuration into
// a new snapshot (a bad one is logged and the old one keeps serving). On SIGTERM open
// messages may finish (milter.drain_timeout) before run() returns.
// The only module that includes <libmilter/mfapi.h>. No exception leaves a libmilter
// callback: each one turns it into the failure policy.
#pragma once

#include <string>

namespace mw::milter {

// Returns the process exit status: 0 after a clean stop, 1 when the socket or the
// privilege drop failed, 2 for a bad configuration.
int run(const std::string& config_path);

}  // namespace mw::milter
