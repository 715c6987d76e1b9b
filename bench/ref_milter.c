/* bench/ref_milter.c -- the reference milter of the milter benchmarks: the least a
 * libmilter filter can do with the same traffic as mailwarden. It is the yardstick that
 * issue 7's targets are stated against ("at least 75 % of the reference milter's msg/s"),
 * so it must pay libmilter's cost (threads, packet decoding, one reply per message)
 * and receive the same bytes, but do no work of its own.
 *
 *   ref_milter -p SOCKET [-T TIMEOUT_SECONDS] [-b BACKLOG] [-N]
 *
 * SOCKET is libmilter's form: unix:/path, inet:PORT@127.0.0.1, inet6:PORT@::1.
 *
 * What it negotiates (xxfi_negotiate), mirroring src/milter/milter.cpp so that the
 * bytes on the wire are the same for both milters:
 *   - events: connect, helo, mail, rcpt, each header, end of headers, body chunks and
 *     end of message, like mailwarden; SMFIP_NOUNKNOWN and SMFIP_NODATA for the two
 *     events mailwarden does not take either;
 *   - SMFIP_NR_* (no reply) for every event it gets except end of message: it never
 *     decides anything before the end, so the MTA need not wait;
 *   - actions: SMFIF_ADDHDRS only.
 * It "uses" the headers and body only to count their bytes (so they cannot be
 * negotiated away), accepts every message, and adds one header at end of message:
 *   X-Ref-Milter: headers=N body=M
 *
 * TCP: like mailwarden (src/milter/socket.cpp), it sets TCP_NODELAY on its listening
 * socket, which accepted connections inherit. Without it, stock libmilter's end-of-
 * message answer (the header, then "accept": two small writes) waits for the MTA's
 * delayed ACK, about 40 ms per message on Linux, and the reference would measure
 * Nagle rather than libmilter. -N leaves Nagle on: stock libmilter, for a control row.
 *
 * Not part of mailwarden and never installed: built by `make bench` (and `make check`,
 * for bench/smoke_test.sh). It includes libmilter/mfapi.h, which in the product only
 * src/milter/ does; this program is a separate binary that links nothing of ours.
 * Stops on SIGTERM / SIGINT (libmilter's signal thread ends smfi_main()).
 * Exit status: 0 after a clean stop, 1 on a bad socket or a libmilter failure, 2 bad
 * usage.
 */
#include <dirent.h>
#include <errno.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* Per connection: byte counts of the current message. */
struct ref_conn {
	unsigned long no_reply; /* the SMFIP_NR_* bits the MTA agreed to */
	unsigned long header_bytes;
	unsigned long body_bytes;
};

static struct ref_conn *conn_of(SMFICTX *ctx)
{
	return (struct ref_conn *)smfi_getpriv(ctx);
}

/* What we need: see the file comment. Offered bits we do not name are refused. */
static sfsistat ref_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			      unsigned long f2, unsigned long f3, unsigned long *pf0,
			      unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	const unsigned long no_reply = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL |
				       SMFIP_NR_RCPT | SMFIP_NR_HDR | SMFIP_NR_EOH |
				       SMFIP_NR_BODY;
	const unsigned long not_wanted = SMFIP_NOUNKNOWN | SMFIP_NODATA;
	struct ref_conn *c;

	(void)f2;
	(void)f3;
	if ((f0 & SMFIF_ADDHDRS) == 0)
		return SMFIS_REJECT; /* cannot add our header: refuse the MTA */
	*pf0 = SMFIF_ADDHDRS;
	*pf1 = (no_reply | not_wanted) & f1;
	*pf2 = 0;
	*pf3 = 0;
	c = calloc(1, sizeof *c);
	if (c == NULL)
		return SMFIS_TEMPFAIL;
	c->no_reply = *pf1 & no_reply;
	if (smfi_setpriv(ctx, c) != MI_SUCCESS) {
		free(c);
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

/* An event we take only so that its bytes travel as they do to mailwarden. With its
 * SMFIP_NR_* bit agreed the MTA reads no reply, and libmilter sends none for
 * SMFIS_NOREPLY; without it the MTA waits, so it must get "continue". */
static sfsistat ref_noreply(SMFICTX *ctx, unsigned long bit)
{
	const struct ref_conn *c = conn_of(ctx);

	return (c != NULL && (c->no_reply & bit) != 0) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat ref_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
	(void)host;
	(void)addr;
	return ref_noreply(ctx, SMFIP_NR_CONN);
}

static sfsistat ref_helo(SMFICTX *ctx, char *helo)
{
	(void)helo;
	return ref_noreply(ctx, SMFIP_NR_HELO);
}

static sfsistat ref_envfrom(SMFICTX *ctx, char **argv)
{
	struct ref_conn *c = conn_of(ctx);

	(void)argv;
	if (c != NULL) { /* a new message on this connection */
		c->header_bytes = 0;
		c->body_bytes = 0;
	}
	return ref_noreply(ctx, SMFIP_NR_MAIL);
}

static sfsistat ref_envrcpt(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return ref_noreply(ctx, SMFIP_NR_RCPT);
}

static sfsistat ref_header(SMFICTX *ctx, char *name, char *value)
{
	struct ref_conn *c = conn_of(ctx);

	if (c != NULL)
		c->header_bytes += strlen(name) + strlen(value);
	return ref_noreply(ctx, SMFIP_NR_HDR);
}

static sfsistat ref_eoh(SMFICTX *ctx)
{
	return ref_noreply(ctx, SMFIP_NR_EOH);
}

static sfsistat ref_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct ref_conn *c = conn_of(ctx);

	(void)chunk;
	if (c != NULL)
		c->body_bytes += len;
	return ref_noreply(ctx, SMFIP_NR_BODY);
}

/* The one decision: accept, with one header added (the cost of one modification). */
static sfsistat ref_eom(SMFICTX *ctx)
{
	struct ref_conn *c = conn_of(ctx);
	char value[64];

	snprintf(value, sizeof value, "headers=%lu body=%lu", c ? c->header_bytes : 0UL,
		 c ? c->body_bytes : 0UL);
	if (smfi_addheader(ctx, "X-Ref-Milter", value) != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	return SMFIS_ACCEPT;
}

/* xxfi_close may come without xxfi_negotiate having set the private pointer. */
static sfsistat ref_close(SMFICTX *ctx)
{
	struct ref_conn *c = conn_of(ctx);

	if (c != NULL) {
		smfi_setpriv(ctx, NULL);
		free(c);
	}
	return SMFIS_CONTINUE;
}

/* TCP_NODELAY on every listening TCP socket of this process (libmilter does not hand
 * out its descriptor; after smfi_opensocket the only listener is libmilter's). Returns
 * how many were changed. */
static int nodelay_on_listeners(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int changed = 0;

	if (dir == NULL)
		return 0;
	while ((e = readdir(dir)) != NULL) {
		char *end = NULL;
		long fd = strtol(e->d_name, &end, 10);
		struct sockaddr_storage sa;
		socklen_t salen = sizeof sa;
		int listening = 0, one = 1;
		socklen_t len = sizeof listening;

		if (*e->d_name == '\0' || *end != '\0' || fd < 0 || fd == dirfd(dir))
			continue;
		if (getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
		    !listening)
			continue;
		if (getsockname((int)fd, (struct sockaddr *)&sa, &salen) != 0 ||
		    (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
			continue;
		if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0)
			changed++;
	}
	closedir(dir);
	return changed;
}

static void usage(void)
{
	fputs("usage: ref_milter -p SOCKET [-T TIMEOUT_SECONDS] [-b BACKLOG] [-N]\n"
	      "  SOCKET: unix:/path | inet:PORT@127.0.0.1 | inet6:PORT@::1\n"
	      "  -N: leave Nagle on for TCP (stock libmilter)\n",
	      stderr);
}

/* A positive int from text, or -1. */
static int positive(const char *text)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *text == '\0' || *end != '\0' || v < 1 || v > 1000000)
		return -1;
	return (int)v;
}

int main(int argc, char **argv)
{
	struct smfiDesc desc;
	const char *socket = NULL;
	int timeout = 7210; /* as mailwarden's milter.timeout default */
	int backlog = 128;
	int nagle = 0;
	int opt;

	while ((opt = getopt(argc, argv, "p:T:b:N")) != -1) {
		switch (opt) {
		case 'p':
			socket = optarg;
			break;
		case 'T':
			timeout = positive(optarg);
			break;
		case 'b':
			backlog = positive(optarg);
			break;
		case 'N':
			nagle = 1;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (socket == NULL || timeout < 0 || backlog < 0 || optind != argc) {
		usage();
		return 2;
	}

	memset(&desc, 0, sizeof desc);
	desc.xxfi_name = "ref_milter";
	desc.xxfi_version = SMFI_VERSION;
	desc.xxfi_flags = SMFIF_ADDHDRS;
	desc.xxfi_connect = ref_connect;
	desc.xxfi_helo = ref_helo;
	desc.xxfi_envfrom = ref_envfrom;
	desc.xxfi_envrcpt = ref_envrcpt;
	desc.xxfi_header = ref_header;
	desc.xxfi_eoh = ref_eoh;
	desc.xxfi_body = ref_body;
	desc.xxfi_eom = ref_eom;
	desc.xxfi_close = ref_close;
	desc.xxfi_negotiate = ref_negotiate;

	/* A stale unix socket from an earlier run would make the bind fail. */
	if (strncmp(socket, "unix:", 5) == 0 || strncmp(socket, "local:", 6) == 0) {
		const char *path = strchr(socket, ':') + 1;
		struct stat st;

		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
	}
	if (smfi_setconn((char *)socket) == MI_FAILURE ||
	    smfi_settimeout(timeout) == MI_FAILURE || smfi_setbacklog(backlog) == MI_FAILURE ||
	    smfi_register(desc) == MI_FAILURE) {
		fprintf(stderr, "ref_milter: cannot set up libmilter for %s\n", socket);
		return 1;
	}
	/* Open the socket now, so a bad address is an error here and not in smfi_main. */
	if (smfi_opensocket(1) == MI_FAILURE) {
		fprintf(stderr, "ref_milter: cannot listen on %s\n", socket);
		return 1;
	}
	if (!nagle)
		nodelay_on_listeners();
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
