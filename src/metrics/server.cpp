#include "mailwarden/metrics/server.h"

#include <arpa/inet.h>
#include <hs/hs.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "config.h"  // PACKAGE_VERSION, MW_HS_FLAVOUR (configure)
#include "mailwarden/base/signals_blocked.h"
#include "mailwarden/obs/exposition.h"
#include "mailwarden/obs/log.h"

// libopendkim's version, declared here rather than through <opendkim/dkim.h>, which only
// dkim/opendkim.h includes (it needs a _Bool workaround under C++). dkim.h: "uint32_t
// dkim_libversion(void)", the library's OPENDKIM_LIB_VERSION (0xMMmmpp00).
extern "C" std::uint32_t dkim_libversion(void);

namespace mw::metrics {
namespace {

// The content type Prometheus asks for in its Accept header for the text format.
constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// libmicrohttpd's own diagnostics (a client that sends garbage, accept failing) go to
// our log at warn level instead of stderr.
void mhdLog(void*, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string_view text(buf);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  obs::log(obs::Level::Warn, "", "metrics", "libmicrohttpd: {}", text);
}

MHD_Result reply(MHD_Connection* conn, unsigned status, std::string body, bool allow_header) {
  MHD_Response* r = MHD_create_response_from_buffer(body.size(), body.data(),
                                                    MHD_RESPMEM_MUST_COPY);
  if (r == nullptr) {
    return MHD_NO;  // libmicrohttpd closes the connection
  }
  static_cast<void>(MHD_add_response_header(
      r, MHD_HTTP_HEADER_CONTENT_TYPE,
      status == MHD_HTTP_OK ? kContentType : "text/plain; charset=utf-8"));
  if (allow_header) {
    static_cast<void>(MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD"));
  }
  const MHD_Result ok = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ok;
}

// The request handler (MHD_AccessHandlerCallback). A C callback: nothing may escape it.
// Requests have no body we read: the first call for a request already answers it (a
// request with an upload body gets its answer without the body read; libmicrohttpd then
// closes the connection).
MHD_Result onRequest(void*, MHD_Connection* conn, const char* url, const char* method,
                     const char*, const char*, size_t*, void**) noexcept {
  try {
    const std::string_view m = method != nullptr ? method : "";
    if (std::string_view(url != nullptr ? url : "") != "/metrics") {
      return reply(conn, MHD_HTTP_NOT_FOUND, "Not found: only /metrics is served\n", false);
    }
    if (m != MHD_HTTP_METHOD_GET && m != MHD_HTTP_METHOD_HEAD) {
      return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed\n", true);
    }
    return reply(conn, MHD_HTTP_OK, obs::renderPrometheus(), false);
  } catch (...) {
    try {
      return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "Internal error\n", false);
    } catch (...) {
      return MHD_NO;
    }
  }
}

std::string endpointText(int family, const std::string& address, int port) {
  return family == AF_INET6 ? "[" + address + "]:" + std::to_string(port)
                            : address + ":" + std::to_string(port);
}

// A listening TCP socket on address:port, or why not.
Result<int> bindListener(const std::string& address, int port, int& family, int& bound_port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      inet_pton(AF_INET, address.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof(sockaddr_in);
    family = AF_INET;
  } else if (auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
             inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof(sockaddr_in6);
    family = AF_INET6;
  } else {
    return fail(Errc::Invalid, "metrics: '" + address + "' is not an IP address");
  }
  if (port < 0 || port > 65535) {
    return fail(Errc::Invalid, "metrics: port " + std::to_string(port) + " out of range");
  }
  const std::string where = endpointText(family, address, port);
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(Errc::Internal, "metrics: socket: " + std::string(std::strerror(errno)));
  }
  const int one = 1;
  // A restart finds the port in TIME_WAIT after a scrape: rebinding is what we want.
  static_cast<void>(::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
  if (family == AF_INET6) {
    // [::] means IPv6 only: what the operator wrote, not also every IPv4 address.
    static_cast<void>(::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0 ||
      ::listen(fd, static_cast<int>(kMaxConnections)) != 0) {
    const int err = errno;
    ::close(fd);
    return fail(Errc::TempFail, "metrics: bind " + where + ": " + std::strerror(err));
  }
  sockaddr_storage got{};
  socklen_t got_len = sizeof got;
  bound_port = port;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &got_len) == 0) {
    bound_port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);
  }
  return fd;
}

}  // namespace

struct Server::Daemon {
  MHD_Daemon* d = nullptr;
  ~Daemon() {
    if (d != nullptr) {
      MHD_stop_daemon(d);  // joins the thread, closes the listening socket
    }
  }
};

Server::Server(std::unique_ptr<Daemon> d, std::string endpoint, int port)
    : daemon_(std::move(d)), endpoint_(std::move(endpoint)), port_(port) {}

Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::start(const std::string& address, int port) {
  int family = AF_INET;
  int bound_port = 0;
  Result<int> fd = bindListener(address, port, family, bound_port);
  if (!fd) {
    return fail(fd.error());
  }
  auto daemon = std::make_unique<Daemon>();
  {
    const SignalsBlocked blocked;  // the thread starts with every signal blocked
    daemon->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
            (family == AF_INET6 ? MHD_USE_IPv6 : 0),
        0, nullptr, nullptr, &onRequest, nullptr,
        // The logger first: libmicrohttpd warns about options that precede it.
        MHD_OPTION_EXTERNAL_LOGGER, &mhdLog, nullptr,
        MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(*fd),
        MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned>(kMaxConnections),
        MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned>(kConnectionTimeoutSeconds),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(64 * 1024),
        MHD_OPTION_END);
  }
  if (daemon->d == nullptr) {
    ::close(*fd);  // not taken over
    return fail(Errc::Internal, "metrics: libmicrohttpd could not start on " +
                                    endpointText(family, address, bound_port));
  }
  return std::unique_ptr<Server>(
      new Server(std::move(daemon), endpointText(family, address, bound_port), bound_port));
}

void recordBuildInfo() {
  const std::uint32_t v = dkim_libversion();  // 0xMMmmpp00 (dkim.h: OPENDKIM_LIB_VERSION)
  const std::string opendkim = std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) +
                               "." + std::to_string((v >> 8) & 0xff);
  // hs_version(): "5.4.0 2023-02-08": the version is the first word.
  std::string hs = hs_version();
  if (const std::size_t sp = hs.find(' '); sp != std::string::npos) {
    hs.resize(sp);
  }
  obs::setBuildInfo({
      {"version", PACKAGE_VERSION},
      {"hyperscan", std::string(MW_HS_FLAVOUR) + " " + hs},
      {"opendkim", opendkim},
      {"openssl", OpenSSL_version(OPENSSL_VERSION_STRING)},
  });
}

}  // namespace mw::metrics
