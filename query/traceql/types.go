package traceql

// sType is the static type of an expression, as far as the parser can
// tell: attributes have no static type (sUnknown).
type sType uint8

const (
	sUnknown sType = iota
	sBool
	sString
	sNumber
	sDuration
	sStatus
	sKind
	sNil
)

// typeOf infers the static type of an expression.
func typeOf(e expr) sType {
	switch e := e.(type) {
	case *staticExpr:
		return valueSType(e.v.t)
	case *attrExpr:
		return sUnknown
	case *intrinsicExpr:
		return valueSType(e.in.staticType())
	case *unaryExpr:
		if e.op == OpNot {
			return sBool
		}
		return typeOf(e.x)
	case *aggExpr:
		if e.fn == aggCount {
			return sNumber
		}
		if typeOf(e.x) == sDuration {
			return sDuration
		}
		return sNumber
	case *binaryExpr:
		if !e.op.isArithmetic() {
			return sBool
		}
		l, r := typeOf(e.l), typeOf(e.r)
		switch {
		case l == sUnknown || r == sUnknown:
			return sUnknown
		case l == sDuration && r == sDuration:
			if e.op == OpDiv {
				return sNumber
			}
			return sDuration
		case l == sDuration || r == sDuration:
			return sDuration
		}
		return sNumber
	}
	return sUnknown
}

// valueSType maps a value type to a static type.
func valueSType(t ValueType) sType {
	switch t {
	case TypeNil:
		return sNil
	case TypeBool:
		return sBool
	case TypeString:
		return sString
	case TypeInt, TypeFloat:
		return sNumber
	case TypeDuration:
		return sDuration
	case TypeStatus:
		return sStatus
	case TypeKind:
		return sKind
	}
	return sUnknown
}

// boolCapable reports whether an expression of the type can be a
// condition.
func boolCapable(t sType) bool { return t == sBool || t == sUnknown }

// numberCapable reports whether an expression of the type can be an
// operand of arithmetic.
func numberCapable(t sType) bool { return t == sNumber || t == sDuration || t == sUnknown }
