package chunk

import "encoding/binary"

// packer appends fixed-width slots LSB-first: slot i occupies bits
// [i·w, (i+1)·w) of the output, bit 0 being the lowest bit of the first byte.
type packer struct {
	dst []byte
	acc uint64 // Pending bits, the oldest in the low end.
	n   uint   // Number of pending bits, 0..63.
}

// put appends the low w bits of v (0 ≤ w ≤ 64; v must have no bits above w).
func (p *packer) put(v uint64, w uint) {
	p.acc |= v << p.n
	if p.n+w >= 64 {
		p.dst = binary.LittleEndian.AppendUint64(p.dst, p.acc)
		// The bits of v that did not fit; when p.n == 0 all of v fitted and
		// Go defines v >> 64 as 0.
		p.acc = v >> (64 - p.n)
		p.n = p.n + w - 64
		return
	}
	p.n += w
}

// flush appends the pending bits, padded with zeros to a whole byte.
func (p *packer) flush() []byte {
	for p.n > 0 {
		p.dst = append(p.dst, byte(p.acc))
		p.acc >>= 8
		if p.n < 8 {
			p.n = 0
		} else {
			p.n -= 8
		}
	}
	p.acc = 0
	return p.dst
}

// packedLen is the number of bytes holding c slots of w bits.
func packedLen(c int, w uint) int { return (c*int(w) + 7) / 8 }

// unpack fills out with the len(out) w-bit slots of src, which must hold at
// least packedLen(len(out), w) bytes.
func unpack(out []uint64, src []byte, w uint) {
	if w == 0 {
		clear(out)
		return
	}
	mask := ^uint64(0) >> (64 - w)
	var pos uint // Bit position of the current slot.
	i := 0
	if w <= 56 {
		// Fast path: one unaligned 8-byte load holds the whole slot while
		// at least 8 bytes remain.
		for ; i < len(out); i++ {
			byt := int(pos >> 3)
			if byt+8 > len(src) {
				break
			}
			out[i] = (binary.LittleEndian.Uint64(src[byt:]) >> (pos & 7)) & mask
			pos += w
		}
	}
	for ; i < len(out); i++ {
		out[i] = unpackSlow(src, pos, w) & mask
		pos += w
	}
}

// unpackSlow reads the w bits at bit position pos byte by byte, treating
// bytes past the end of src as zero.
func unpackSlow(src []byte, pos, w uint) uint64 {
	byt := int(pos >> 3)
	shift := pos & 7
	var v uint64
	got := uint(0) // Bits of v filled.
	for got < w && byt < len(src) {
		b := uint64(src[byt]) >> shift
		v |= b << got
		got += 8 - shift
		shift = 0
		byt++
	}
	return v
}
