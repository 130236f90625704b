//go:build !unix

package layout

const oNonBlock = 0
