package traceql

// tokKind is the kind of a token.
type tokKind uint8

const (
	tEOF tokKind = iota
	tLBrace
	tRBrace
	tLParen
	tRParen
	tComma
	tPipe

	tAnd // &&
	tOr  // ||
	tNot // !

	tEq  // =
	tNeq // !=
	tGt  // >
	tGte // >=
	tLt  // <
	tLte // <=
	tRe  // =~
	tNre // !~ (regex non-match, or the negated sibling operator)

	tAdd
	tSub
	tMul
	tDiv
	tMod
	tPow

	tDesc         // >>
	tAnc          // <<
	tTilde        // ~
	tNotDesc      // !>>
	tNotChild     // !>
	tNotAnc       // !<<
	tNotParent    // !<
	tUnionDesc    // &>>
	tUnionChild   // &>
	tUnionAnc     // &<<
	tUnionParent  // &<
	tUnionSibling // &~
	tString       // "..." or `...`; s is the decoded string
	tInt          // i
	tFloat        // f
	tDuration     // i is nanoseconds
	tIdent        // a word, possibly scope:word; s is the word
	tAttr         // scope.name or .name; scope and s
)

// token is one lexed token.
type token struct {
	kind     tokKind
	pos, end int // byte offsets in the source
	s        string
	scope    string // the scope word of a tAttr; "" for .name
	i        int64
	f        float64
}

// fieldOp returns the field-expression operator of a token, if any.
func (k tokKind) fieldOp() Op {
	switch k {
	case tEq:
		return OpEq
	case tNeq:
		return OpNeq
	case tGt:
		return OpGt
	case tGte:
		return OpGte
	case tLt:
		return OpLt
	case tLte:
		return OpLte
	case tRe:
		return OpRegex
	case tNre:
		return OpNotRegex
	case tAnd:
		return OpAnd
	case tOr:
		return OpOr
	case tAdd:
		return OpAdd
	case tSub:
		return OpSub
	case tMul:
		return OpMul
	case tDiv:
		return OpDiv
	case tMod:
		return OpMod
	case tPow:
		return OpPow
	}
	return OpNone
}

// spansetOp returns the spanset operator of a token, if any.
func (k tokKind) spansetOp() Op {
	switch k {
	case tAnd:
		return OpSpansetAnd
	case tOr:
		return OpSpansetOr
	case tDesc:
		return OpDescendant
	case tGt:
		return OpChild
	case tAnc:
		return OpAncestor
	case tLt:
		return OpParent
	case tTilde:
		return OpSibling
	case tNotDesc:
		return OpNotDescendant
	case tNotChild:
		return OpNotChild
	case tNotAnc:
		return OpNotAncestor
	case tNotParent:
		return OpNotParent
	case tNre:
		return OpNotSibling
	case tUnionDesc:
		return OpUnionDescendant
	case tUnionChild:
		return OpUnionChild
	case tUnionAnc:
		return OpUnionAncestor
	case tUnionParent:
		return OpUnionParent
	case tUnionSibling:
		return OpUnionSibling
	}
	return OpNone
}
