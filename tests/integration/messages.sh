# shellcheck shell=bash
# tests/integration/messages.sh -- the test messages that must cross an MTA byte for
# byte, shared by postfix_relay_test.sh (Postfix alone) and postfix_milter_test.sh
# (Postfix with mailwarden). Source after lib.sh.

# mw_make_relay_messages DIR: writes DIR/eightbit.eml, DIR/folded.eml and DIR/big.eml
# in wire form (CRLF), with Message-IDs <eightbit-1@origin.test.example>,
# <folded-2@origin.test.example> and <attachment-20240101-15728640@test.example>.
mw_make_relay_messages() {
	local dir=$1 i
	mkdir -p "$dir"
	# 1. 8-bit: raw UTF-8 and Latin-1 bytes in a header and in the body, lines that begin
	#    with "." (dot-stuffing), a "From " line, trailing white space, and text swaks
	#    would rewrite without --no-data-fixup (a literal backslash-n, %DATE%).
	{
		printf 'From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@origin.test.example>\n'
		printf 'To: rcpt@dest.test.example\n'
		printf 'Subject: 8bit body \xc3\xa4\xc3\xb6\xc3\xbc\n'
		printf 'X-Raw-Latin1: caf\xe9\n'
		printf 'Date: Mon, 01 Jan 2024 00:00:00 +0000\n'
		printf 'Message-ID: <eightbit-1@origin.test.example>\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: 8bit\n'
		printf '\n'
		printf 'Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln \xe2\x80\x94 \xf0\x9f\x93\xa8\n'
		printf 'Latin-1, not UTF-8: \xe9\xe8\xff\xa0end\n'
		printf '.a line that starts with a dot\n'
		printf '..two dots\n'
		printf '.\x20\n'
		printf 'From the desk of someone (an mbox From_ line)\n'
		printf 'trailing spaces   \n'
		printf 'trailing tab\t\n'
		printf 'literal backslash-n: \\n and a token: %%DATE%% %%FROM_ADDRESS%%\n'
		printf '\n'
		printf '\n'
		printf 'two empty lines above, the last line has 998 octets:\n'
		printf '%0998d\n' 0
	} >"$dir/eightbit.lf"
	"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" crlf "$dir/eightbit.lf" "$dir/eightbit.eml"

	# 2. Long folded headers: a Subject folded three times, a 100-id References header
	#    (about 5 KB, one id per line), tab continuations, a 990-octet unfolded line, an
	#    empty value and a value with no space after the colon.
	{
		printf 'From: sender@origin.test.example\n'
		printf 'To: rcpt@dest.test.example\n'
		printf 'Subject: a subject that is long enough that the sending client folded it\n'
		printf ' over several lines, once with a space,\n'
		printf '\tonce with a tab,\n'
		printf '   and once with three spaces\n'
		printf 'Date: Mon, 01 Jan 2024 00:00:01 +0000\n'
		printf 'Message-ID: <folded-2@origin.test.example>\n'
		printf 'References:'
		for i in $(seq 1 100); do
			printf ' <ref-%03d.%s@origin.test.example>\n' "$i" "abcdefghijklmnopqrstuvwxyz"
		done
		printf 'X-Long-Unfolded: %s\n' "$(printf 'x%.0s' $(seq 1 973))"
		printf 'X-Empty:\n'
		printf 'X-NoSpace:value\n'
		printf 'X-Tabbed:\tvalue after a tab\n'
		printf '\tcontinued with a tab\n'
		printf '\n'
		printf 'Body of the folded-header message.\n'
	} >"$dir/folded.lf"
	"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" crlf "$dir/folded.lf" "$dir/folded.eml"

	# 3. About 20 MB: 15 MiB of pseudo-random bytes (fixed seed, so every run sends the
	#    same message) as a base64 attachment.
	"$MW_PYTHON" "$MW_INTEG_DIR/mw_msgtool.py" attachment "$dir/big.eml" --seed 20240101 --bytes $((15 * 1024 * 1024)) \
		--subject "20 MB attachment"
}
