#include "privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace mw::milter {

Result<Identity> lookupIdentity(const std::string& user, const std::string& group) {
  Identity id;
  if (user.empty()) {
    id.uid = getuid();
    id.gid = getgid();
    return id;
  }
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return fail(Errc::Invalid, "milter.user '" + user + "' does not exist: create it (adduser --system "
                                 "--group " + user + ") or set milter.user");
  }
  id.uid = pw.pw_uid;
  id.gid = pw.pw_gid;
  id.user = user;
  if (!group.empty()) {
    ::group gr{};
    ::group* gfound = nullptr;
    if (getgrnam_r(group.c_str(), &gr, buf.data(), buf.size(), &gfound) != 0 || gfound == nullptr) {
      return fail(Errc::Invalid, "milter.group '" + group + "' does not exist: create it or set milter.group");
    }
    id.gid = gr.gr_gid;
  }
  return id;
}

Result<void> handOverSocket(const std::string& path, const Identity& who) {
  // lchown: the path was just bound by us, but never follow a link swapped in since.
  if (geteuid() == 0 && lchown(path.c_str(), who.uid, who.gid) != 0) {
    return fail(Errc::TempFail, "chown " + path + ": " + std::strerror(errno));
  }
  return {};
}

Result<void> dropTo(const Identity& who) {
  if (who.user.empty() || (geteuid() == who.uid && getegid() == who.gid)) {
    return {};
  }
  if (geteuid() != 0) {
    return fail(Errc::Invalid, "cannot switch to user '" + who.user + "': not started as root (start "
                                 "it as root, as " + who.user + ", or set milter.user to \"\")");
  }
  if (initgroups(who.user.c_str(), who.gid) != 0) {
    return fail(Errc::TempFail, std::string("initgroups: ") + std::strerror(errno));
  }
  if (setgid(who.gid) != 0) {
    return fail(Errc::TempFail, std::string("setgid: ") + std::strerror(errno));
  }
  if (setuid(who.uid) != 0) {
    return fail(Errc::TempFail, std::string("setuid: ") + std::strerror(errno));
  }
  // A drop that can be undone is no drop.
  if (who.uid != 0 && setuid(0) == 0) {
    return fail(Errc::Internal, "privileges could be regained after setuid");
  }
  return {};
}

}  // namespace mw::milter
