// Package decrypt is the support side of dump: it finds a dump in a store by
// uuid, prefix or glob ([Find]), downloads it (several ranges at once where the
// store allows), checks its size and sha256 against info.json, opens the
// session key with the support identities, decrypts and decompresses the
// payload and unpacks it safely into OUT/<uuid>/ ([FromStore], [FromFile]).
//
// Everything streams: memory stays bounded whatever the size of the dump.
// The archive is treated as hostile ([Extract]): nothing is ever written
// outside the target directory, and the target appears only once the whole
// payload has been read and authenticated, so a truncated, tampered or
// over-large dump never leaves a tree that looks complete.
//
// Typical use:
//
//	refs, err := decrypt.Find(ctx, store, "3f2a9c1b")
//	// one match expected; several: let the user pick
//	res, err := decrypt.FromStore(ctx, store, refs[0].UUID, decrypt.Options{
//		Identities: ids,
//		OutDir:     ".",
//	})
//	fmt.Println(res.Dir)
package decrypt
