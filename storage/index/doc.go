// Package index owns in-memory index structures and their byte encodings:
// scalable split-block bloom filters over 64-bit hashes (Bloom), compressed
// tries of names for prefix and fuzzy lookups (Trie), and bounded two-level
// key → values tries built on them (KeyValues).
//
// The package must not know about Badger, keys, partitions, windows, actors
// or queries. Callers hash what they index (trace IDs, terms) before handing
// it to a Bloom, decide where an encoding is stored, and decide what a name
// or a tag means. Every structure encodes itself with MarshalBinary into a
// versioned byte format whose first byte is the format version and whose
// last four bytes are a CRC-32C of the rest; UnmarshalBinary never panics on
// any input and reports ErrVersion or ErrCorrupt.
package index
