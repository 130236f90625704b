package redact

// Cheap prefilters: one pass over a line with a table of two-byte anchors
// tells which rules can possibly match, so most log lines never reach a
// regular expression.

type trig uint32

const (
	tPass trig = 1 << iota // pass, pwd
	tSecret
	tToken
	tKey
	tAuth // auth, authorization
	tCred
	tPin
	tBearer
	tSig
	tCookie // cookie, session
	tPrivate
	tEyJ  // JWT (case-sensitive)
	tAWS  // AKIA/ASIA (case-sensitive)
	tK10  // k3s token (case-sensitive)
	tURL  // "://"
	tAIza // Google API key (case-sensitive)
	tVend // vendor token prefixes: ghp_, glpat-, xoxb-, sk_live_, npm_, hvs., ...
	tAt   // '@' (URL credentials need it)
	tAWSWord
	tB64PEM // base64 of "-----BEGIN "
	tHook   // webhook URLs
	tDSN    // Go MySQL DSN: user:pw@tcp(host)/db
	tCmd    // commands that take a password as an argument (mysql -pX, curl -u u:X)
)

// secretWords are the triggers of the key/value, flag and entropy rules.
const secretWords = tPass | tSecret | tToken | tKey | tAuth | tCred | tPin | tBearer | tSig | tCookie

type anchor struct {
	word  string // lower case unless exact
	exact bool   // match case-sensitively
	t     trig
}

var anchors = []anchor{
	{"pass", false, tPass}, {"pw", false, tPass}, {"secret", false, tSecret}, {"token", false, tToken},
	{"key", false, tKey}, {"auth", false, tAuth}, {"cred", false, tCred}, {"pin", false, tPin},
	{"bearer", false, tBearer}, {"sig", false, tSig}, {"cookie", false, tCookie}, {"session", false, tCookie},
	{"private", false, tPrivate}, {"eyJ", true, tEyJ}, {"AKIA", true, tAWS}, {"ASIA", true, tAWS},
	{"K10", true, tK10}, {"://", false, tURL}, {"AIza", true, tAIza}, {"ghp_", false, tVend}, {"gho_", false, tVend},
	{"ghu_", false, tVend}, {"ghs_", false, tVend}, {"ghr_", false, tVend}, {"github_pat_", false, tVend},
	{"glpat-", false, tVend}, {"xoxb-", false, tVend}, {"xoxp-", false, tVend}, {"xoxa-", false, tVend},
	{"aws", false, tAWSWord},
	{"eyA", true, tEyJ}, {"ewo", true, tEyJ}, {"ew0", true, tEyJ}, {"ewk", true, tEyJ},
	{"xoxe", false, tVend}, {"xoxo-", false, tVend}, {"xoxr-", false, tVend}, {"xoxs-", false, tVend}, {"xapp-", false, tVend},
	{"sk_live_", false, tVend}, {"rk_live_", false, tVend}, {"sk_test_", false, tVend}, {"rk_test_", false, tVend},
	{"sk-proj-", false, tVend}, {"sk-svcacct-", false, tVend}, {"sk-admin-", false, tVend}, {"sk-ant-", false, tVend},
	{"T3BlbkFJ", true, tVend}, {"npm_", false, tVend}, {"hvs.", false, tVend}, {"hvb.", false, tVend}, {"hvr.", false, tVend},
	{"SG.", true, tVend}, {"LS0tLS1CRUdJTi", true, tB64PEM},
	{"@tcp(", false, tDSN}, {"@tcp6(", false, tDSN}, {"@unix(", false, tDSN}, {"@udp(", false, tDSN},
	{"mysql", false, tCmd}, {"mariadb", false, tCmd}, {"curl", false, tCmd}, {"redis-cli", false, tCmd},
	{"docker", false, tCmd}, {"podman", false, tCmd}, {"nerdctl", false, tCmd}, {"vault", false, tCmd},
	{"sshpass", false, tCmd},
	{"hooks.slack.com", false, tHook}, {"discord.com/api/webhooks", false, tHook}, {"discordapp.com/api/webhooks", false, tHook},
}

var lowerTab [256]byte

// pairTab maps a lower-cased two-byte prefix to 1+index into pairAnchors;
// pairThird holds, per pair, the lower-cased bytes that can follow it in one
// of its anchors, so that common pairs ("re", "do", "ew") rarely get as far
// as matchAnchors.
var (
	pairTab     [1 << 16]uint8
	pairAnchors [][]int
	pairThird   [][256]bool
)

func init() {
	for i := range lowerTab {
		c := byte(i)
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lowerTab[i] = c
	}
	idx := map[uint16]int{}
	for i, a := range anchors {
		p := uint16(lowerTab[a.word[0]])<<8 | uint16(lowerTab[a.word[1]])
		j, ok := idx[p]
		if !ok {
			j = len(pairAnchors)
			idx[p] = j
			pairAnchors = append(pairAnchors, nil)
			pairThird = append(pairThird, [256]bool{})
			pairTab[p] = uint8(j + 1)
		}
		pairAnchors[j] = append(pairAnchors[j], i)
		if len(a.word) == 2 {
			for c := range pairThird[j] {
				pairThird[j][c] = true
			}
		} else {
			pairThird[j][lowerTab[a.word[2]]] = true
		}
	}
}

// triggers returns which anchors occur in l.
func triggers[T string | []byte](l T) trig {
	var t trig
	n := len(l)
	if n < 2 {
		return 0
	}
	prev := lowerTab[l[0]]
	for i := 1; i < n; i++ {
		c := lowerTab[l[i]]
		if c == '@' {
			t |= tAt
		}
		// At the end of l only a two-byte anchor can match; those set every
		// third byte, NUL included.
		if j := pairTab[uint16(prev)<<8|uint16(c)]; j != 0 && (i+1 < n && pairThird[j-1][lowerTab[l[i+1]]] || i+1 == n && pairThird[j-1][0]) {
			t |= matchAnchors(l, i-1, pairAnchors[j-1])
		}
		prev = c
	}
	if l[0] == '@' {
		t |= tAt
	}
	return t
}

func matchAnchors[T string | []byte](l T, at int, cand []int) trig {
	var t trig
	for _, k := range cand {
		a := anchors[k]
		if at+len(a.word) > len(l) {
			continue
		}
		ok := true
		for i := 0; i < len(a.word); i++ {
			c := l[at+i]
			if !a.exact {
				c = lowerTab[c]
			}
			if c != a.word[i] {
				ok = false
				break
			}
		}
		if ok {
			t |= a.t
		}
	}
	return t
}
