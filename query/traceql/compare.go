package traceql

import (
	"math"
	"regexp"
	"strings"
	"time"
)

// The meaning of comparisons and arithmetic on Values. A comparison of
// values of incompatible types is false; ints and floats compare as
// numbers; an array compared with a scalar is true if any element
// satisfies the comparison (for every operator, != and !~ included).
// Comparisons with nil are false: presence is tested with = nil and != nil,
// which the compiler turns into presence checks before values are compared.

// compareValues applies a comparison operator other than =~ and !~.
func compareValues(op Op, a, b Value) bool {
	if a.isArray() {
		if b.isArray() {
			return false
		}
		for i, n := 0, a.arrayLen(); i < n; i++ {
			if compareScalars(op, a.elem(i), b) {
				return true
			}
		}
		return false
	}
	if b.isArray() {
		for i, n := 0, b.arrayLen(); i < n; i++ {
			if compareScalars(op, a, b.elem(i)) {
				return true
			}
		}
		return false
	}
	return compareScalars(op, a, b)
}

// compareScalars compares two values that are not arrays.
func compareScalars(op Op, a, b Value) bool {
	switch {
	case a.t == TypeString && b.t == TypeString:
		switch op {
		case OpEq:
			return a.Str() == b.Str()
		case OpNeq:
			return a.Str() != b.Str()
		}
		return ordered(op, strings.Compare(a.Str(), b.Str()))
	case a.t == TypeInt && b.t == TypeInt:
		x, y := int64(a.n), int64(b.n)
		return ordered(op, cmpInt(x, y))
	case a.isNumber() && b.isNumber():
		return compareFloats(op, a.Float(), b.Float())
	case a.t == TypeDuration && b.t == TypeDuration:
		return ordered(op, cmpInt(int64(a.n), int64(b.n)))
	case a.t == b.t && (a.t == TypeBool || a.t == TypeStatus || a.t == TypeKind):
		switch op {
		case OpEq:
			return a.n == b.n
		case OpNeq:
			return a.n != b.n
		}
	}
	return false
}

// compareFloats compares floats as IEEE 754 does: NaN is only unequal.
func compareFloats(op Op, x, y float64) bool {
	switch op {
	case OpEq:
		return x == y
	case OpNeq:
		return x != y
	case OpGt:
		return x > y
	case OpGte:
		return x >= y
	case OpLt:
		return x < y
	case OpLte:
		return x <= y
	}
	return false
}

func cmpInt(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// ordered turns a three-way comparison into the operator's answer.
func ordered(op Op, c int) bool {
	switch op {
	case OpEq:
		return c == 0
	case OpNeq:
		return c != 0
	case OpGt:
		return c > 0
	case OpGte:
		return c >= 0
	case OpLt:
		return c < 0
	case OpLte:
		return c <= 0
	}
	return false
}

// matchRegex applies =~ (negate false) or !~ (negate true): a string, or
// any element of a string array, must (not) match. Other types are false.
func matchRegex(re *regexp.Regexp, negate bool, v Value) bool {
	switch v.t {
	case TypeString:
		return re.MatchString(v.Str()) != negate
	case TypeStringArray:
		for _, s := range v.Strings() {
			if re.MatchString(s) != negate {
				return true
			}
		}
	}
	return false
}

// truthy reports whether a value used as a condition holds: only true does.
func truthy(v Value) bool { return v.t == TypeBool && v.n != 0 }

// arith applies a binary arithmetic operator. Ints stay ints under + - * %
// (wrapping on overflow); / and ^ give floats; a float operand makes the
// result a float. Durations add and subtract with durations, scale by
// numbers, and divide by durations into a float. Anything else, and a
// division by zero, is nil.
func arith(op Op, a, b Value) Value {
	switch {
	case a.t == TypeInt && b.t == TypeInt:
		x, y := int64(a.n), int64(b.n)
		switch op {
		case OpAdd:
			return IntValue(x + y)
		case OpSub:
			return IntValue(x - y)
		case OpMul:
			return IntValue(x * y)
		case OpMod:
			if y == 0 {
				return Value{}
			}
			if y == -1 {
				return IntValue(0)
			}
			return IntValue(x % y)
		}
		return floatArith(op, float64(x), float64(y))
	case a.isNumber() && b.isNumber():
		return floatArith(op, a.Float(), b.Float())
	case a.t == TypeDuration && b.t == TypeDuration:
		x, y := int64(a.n), int64(b.n)
		switch op {
		case OpAdd:
			return DurationValue(time.Duration(x + y))
		case OpSub:
			return DurationValue(time.Duration(x - y))
		case OpDiv:
			if y == 0 {
				return Value{}
			}
			return FloatValue(float64(x) / float64(y))
		case OpMod:
			if y == 0 {
				return Value{}
			}
			if y == -1 {
				return DurationValue(0)
			}
			return DurationValue(time.Duration(x % y))
		}
	case a.t == TypeDuration && b.isNumber():
		switch op {
		case OpMul:
			return scaleDuration(a, b.Float())
		case OpDiv:
			if b.Float() == 0 {
				return Value{}
			}
			return scaleDuration(a, 1/b.Float())
		}
	case a.isNumber() && b.t == TypeDuration:
		if op == OpMul {
			return scaleDuration(b, a.Float())
		}
	}
	return Value{}
}

// floatArith applies an arithmetic operator to floats.
func floatArith(op Op, x, y float64) Value {
	switch op {
	case OpAdd:
		return FloatValue(x + y)
	case OpSub:
		return FloatValue(x - y)
	case OpMul:
		return FloatValue(x * y)
	case OpDiv:
		if y == 0 {
			return Value{}
		}
		return FloatValue(x / y)
	case OpMod:
		if y == 0 {
			return Value{}
		}
		return FloatValue(math.Mod(x, y))
	case OpPow:
		return FloatValue(math.Pow(x, y))
	}
	return Value{}
}

// scaleDuration multiplies a duration by a factor; out of range is nil.
func scaleDuration(d Value, f float64) Value {
	r := float64(int64(d.n)) * f
	if math.IsNaN(r) || r >= math.MaxInt64 || r <= math.MinInt64 {
		return Value{}
	}
	return DurationValue(time.Duration(r))
}

// negate applies unary minus: ints, floats and durations; else nil.
func negate(v Value) Value {
	switch v.t {
	case TypeInt:
		return IntValue(-int64(v.n))
	case TypeFloat:
		return FloatValue(-v.Float())
	case TypeDuration:
		return DurationValue(-time.Duration(int64(v.n)))
	}
	return Value{}
}

// flip returns the comparison with its operands swapped: a < b is b > a.
func flip(op Op) Op {
	switch op {
	case OpGt:
		return OpLt
	case OpGte:
		return OpLte
	case OpLt:
		return OpGt
	case OpLte:
		return OpGte
	}
	return op
}
