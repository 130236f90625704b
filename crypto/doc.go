// Package crypto packs a dump tree and seals it for the support team, and
// opens sealed dumps again. Everything streams: memory stays bounded (tens of
// MiB) whatever the size of the dump.
//
// # Format
//
// A sealed dump is three files, named dump-<uuid>.tar.zst.age,
// dump-<uuid>.key.age and dump-<uuid>.json on disk (dump.tar.zst.age,
// key.age and info.json in a bucket):
//
//   - The payload is a tar archive (regular files and directories only,
//     members under "dump-<uuid>/", modes 0600/0700, owner 0:0), compressed
//     with zstd and encrypted with age to a session key made afresh for
//     this dump: tar | zstd | age -r <session recipient>.
//   - The key file is the session identity ("AGE-SECRET-KEY-1...") encrypted
//     with age to every support recipient: X25519 (age1...) or SSH
//     (ssh-ed25519, ssh-rsa) public keys. In nometa mode it is not written;
//     the session key is shown once to the user, who passes it to support by
//     another channel.
//   - The info file is plaintext JSON ([layout.Info]): uuid, creation time, payload
//     size and SHA-256, recipient fingerprints, whether the key was included.
//     It holds nothing secret.
//
// With [SealOptions.Split] (or [Split] on a dump sealed whole) the payload is
// numbered parts, dump-<uuid>.tar.zst.age.001, .002, ..., each at most the
// given size, and the info lists each part's size and SHA-256. The parts
// joined are the payload: cat dump-<uuid>.tar.zst.age.* | age -d ...
//
// Both encrypted files are standard age v1 files, so stock tools open a dump
// without this program:
//
//	age -d -i support.key dump-<uuid>.key.age > s.key
//	age -d -i s.key dump-<uuid>.tar.zst.age | zstd -d | tar -x
//
// (support.key may be an age identity file, a passphrase-protected one, or
// an SSH private key. For a nometa dump, put the key you were given in s.key.)
//
// # Use
//
// The customer side calls [Seal] (or [PackFile] for an unencrypted
// .tar.zst). Recipients come from [ParseRecipients] or [ParseRecipient]. The
// support side calls [LoadIdentities], [OpenKey] (or [ParseSessionKey] for
// --key), then [OpenPayload] and reads the tar stream from it:
//
//	session, err := crypto.OpenKey(keyFile, ids...)
//	rc, err := crypto.OpenPayload(payloadFile, session)
//	... read the tar stream, treating any error as fatal ...
//	err = rc.Close() // reports a truncated or damaged end of the payload
//
// age authenticates the payload in 64 KiB chunks and can only see that it
// was cut short at its end, after a tar reader may already be done: that is
// why the error of Close must be checked. Errors wrap [ErrWrongIdentity],
// [ErrWrongKey], [ErrTampered], [ErrTruncated] or [ErrNotVerified].
//
// [Keygen] and [WriteKeyFile] make support identities in the format of
// age-keygen, optionally passphrase-protected as `age -p -a` does.
package crypto
