//! The small shell subset a command's content is read in (SPEC section 9.5): the syntax only,
//! from text to a [`Script`]; what the statements do is decided in the parent module.
//!
//! Words are split as `sh` splits them: blanks separate words; single quotes keep everything;
//! double quotes keep everything but `\` before `$`, `` ` ``, `"`, `\` or a newline; outside
//! quotes `\` takes the next character literally and `\` + newline joins lines; `#` at the
//! start of a word begins a comment. On a Windows instance a backslash is a literal path
//! separator everywhere. Nothing is expanded: `$HOME` stays `$HOME`. A carriage return counts
//! as a blank, so content with Windows line ends reads the same.
//!
//! Operators are `sh`'s: newline, `;`, `&&`, `||`, `|`, `&`. Redirections (`2>&1`, `> FILE`,
//! `>> FILE`, `&> FILE`, `< FILE`, with or without a descriptor number) are read and dropped.
//! The one compound command is `if LIST; then LIST; [else LIST;] fi` (`;` or newlines).
//!
//! Content `sh` would refuse (an unclosed quote, `;;`, a leading `;` or `&&`, an operator with
//! nothing after it, a redirection without a target, a here-document, `if` without `fi`, a
//! stray `then`/`else`/`fi`, an empty branch) and `elif`, which the subset leaves out, are a
//! [`SyntaxError`].

/// Content the subset cannot read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SyntaxError;

/// How backslashes read: as escapes (`sh`) or as literal path separators (Windows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backslash {
    /// `sh`: a backslash escapes.
    Escapes,
    /// Windows: a backslash is a literal character.
    Literal,
}

/// A whole script or a branch of an `if`: and-or lists run in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Script {
    /// The lists, in order.
    pub items: Vec<AndOr>,
}

/// Pipelines joined by `&&` and `||`, ended by `;`, `&` or a newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// The pipelines that follow, each with the operator before it.
    pub rest: Vec<(Connector, Pipeline)>,
    /// Ended by `&` (run in the background by `sh`).
    pub background: bool,
}

/// The operator between two pipelines of an and-or list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Connector {
    /// `&&`: runs when the last status is zero.
    And,
    /// `||`: runs when the last status is not zero.
    Or,
}

/// Commands joined by `|`, optionally negated by a leading `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pipeline {
    /// A leading `!`.
    pub negated: bool,
    /// The commands, at least one.
    pub commands: Vec<Command>,
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Command {
    /// Words, the redirections dropped; never empty.
    Simple(Vec<String>),
    /// `if CONDITION; then THEN; [else ELSE;] fi`.
    If(Box<IfClause>),
}

/// The parts of an `if`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IfClause {
    /// The list between `if` and `then`.
    pub condition: Script,
    /// The list between `then` and `else` or `fi`.
    pub then_branch: Script,
    /// The list between `else` and `fi`, if there is an `else`.
    pub else_branch: Option<Script>,
}

/// Reads `content` as a script.
pub(super) fn parse(content: &str, backslash: Backslash) -> Result<Script, SyntaxError> {
    let tokens = Lexer::new(content, backslash).tokens()?;
    let mut parser = Parser { tokens, next: 0 };
    let script = parser.list(&[])?;
    match parser.peek() {
        None => Ok(script),
        Some(_) => Err(SyntaxError),
    }
}

/// Splits `text` into words as `sh` does (quotes, `\` escapes, `#` comments), with no
/// operators: `;`, `|`, `&`, `<` and `>` are ordinary characters. An unclosed quote ends the
/// words before it.
pub(super) fn split_words(text: &str) -> Vec<String> {
    let mut lexer = Lexer::new(text, Backslash::Escapes);
    lexer.operators = false;
    let mut words = Vec::new();
    loop {
        lexer.skip_blanks();
        match lexer.peek() {
            None => return words,
            Some('#') => lexer.skip_comment(),
            Some('\n') => {
                lexer.bump();
            }
            Some(_) => match lexer.word() {
                Ok(Some((word, _))) => words.push(word.text),
                Ok(None) | Err(SyntaxError) => return words,
            },
        }
    }
}

/// A word as read, with whether it was written without quotes or escapes (only such a word
/// can be a reserved word like `if`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    text: String,
    plain: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(Word),
    Newline,
    Semicolon,
    AndAnd,
    OrOr,
    Pipe,
    Ampersand,
}

/// What ended a word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WordEnd {
    /// A blank, a newline, an operator or the end.
    Other,
    /// A `<` or `>` right after it: a plain number here is the redirection's descriptor.
    Redirection,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    backslash: Backslash,
    /// Whether `;`, `&`, `|`, `<` and `>` are operators (they are not in plug-in params).
    operators: bool,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a str, backslash: Backslash) -> Self {
        Lexer {
            chars: text.chars().peekable(),
            backslash,
            operators: true,
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        self.chars.next()
    }

    fn eat(&mut self, c: char) -> bool {
        self.chars.next_if_eq(&c).is_some()
    }

    fn tokens(mut self) -> Result<Vec<Token>, SyntaxError> {
        let mut tokens = Vec::new();
        loop {
            self.skip_blanks();
            let Some(c) = self.peek() else {
                return Ok(tokens);
            };
            match c {
                '\n' => {
                    self.bump();
                    tokens.push(Token::Newline);
                }
                '#' => self.skip_comment(),
                ';' => {
                    self.bump();
                    if self.peek() == Some(';') {
                        return Err(SyntaxError);
                    }
                    tokens.push(Token::Semicolon);
                }
                '|' => {
                    self.bump();
                    tokens.push(if self.eat('|') {
                        Token::OrOr
                    } else {
                        Token::Pipe
                    });
                }
                '&' => {
                    self.bump();
                    if self.eat('&') {
                        tokens.push(Token::AndAnd);
                    } else if self.eat('>') {
                        self.eat('>');
                        self.redirection_target()?;
                    } else {
                        tokens.push(Token::Ampersand);
                    }
                }
                '<' | '>' => self.redirection()?,
                _ => {
                    let Some((word, end)) = self.word()? else {
                        // Only a backslash-newline: nothing to read here.
                        continue;
                    };
                    let descriptor = end == WordEnd::Redirection
                        && word.plain
                        && word.text.bytes().all(|b| b.is_ascii_digit());
                    if !descriptor {
                        tokens.push(Token::Word(word));
                    }
                }
            }
        }
    }

    /// Blanks between words: spaces, tabs, carriage returns, and (in `sh`) backslash-newline.
    fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(' ' | '\t' | '\r') => {
                    self.bump();
                }
                Some('\\') if self.backslash == Backslash::Escapes => {
                    let mut ahead = self.chars.clone();
                    ahead.next();
                    if ahead.peek() != Some(&'\n') {
                        return;
                    }
                    self.bump();
                    self.bump();
                }
                _ => return,
            }
        }
    }

    /// From `#` to the end of the line (the newline stays).
    fn skip_comment(&mut self) {
        while self.peek().is_some_and(|c| c != '\n') {
            self.bump();
        }
    }

    /// A redirection starting at `<` or `>`; it leaves no token.
    fn redirection(&mut self) -> Result<(), SyntaxError> {
        match self.bump() {
            Some('>') => {
                // `>>`, `>&`, `>|`
                let _ = self.eat('>') || self.eat('&') || self.eat('|');
            }
            Some('<') => {
                if self.peek() == Some('<') {
                    // A here-document: its body is not read.
                    return Err(SyntaxError);
                }
                // `<&`, `<>`
                let _ = self.eat('&') || self.eat('>');
            }
            _ => return Err(SyntaxError),
        }
        self.redirection_target()
    }

    /// The word a redirection names; it must be there.
    fn redirection_target(&mut self) -> Result<(), SyntaxError> {
        self.skip_blanks();
        match self.peek() {
            Some('#') | None => Err(SyntaxError),
            Some(_) => match self.word()? {
                Some(_) => Ok(()),
                None => Err(SyntaxError),
            },
        }
    }

    /// One word; `None` when the next character ends a word at once.
    fn word(&mut self) -> Result<Option<(Word, WordEnd)>, SyntaxError> {
        let mut text = String::new();
        let mut plain = true;
        let mut read_any = false;
        let end = loop {
            let Some(c) = self.peek() else {
                break WordEnd::Other;
            };
            match c {
                ' ' | '\t' | '\r' | '\n' => break WordEnd::Other,
                ';' | '&' | '|' if self.operators => break WordEnd::Other,
                '<' | '>' if self.operators => break WordEnd::Redirection,
                '\'' => {
                    self.bump();
                    plain = false;
                    loop {
                        match self.bump() {
                            None => return Err(SyntaxError),
                            Some('\'') => break,
                            Some(c) => text.push(c),
                        }
                    }
                }
                '"' => {
                    self.bump();
                    plain = false;
                    self.double_quoted(&mut text)?;
                }
                '\\' if self.backslash == Backslash::Escapes => {
                    self.bump();
                    match self.bump() {
                        // A joined line: nothing is added.
                        Some('\n') => {}
                        Some(c) => {
                            plain = false;
                            text.push(c);
                        }
                        // A backslash at the very end stays itself.
                        None => text.push('\\'),
                    }
                }
                c => {
                    self.bump();
                    text.push(c);
                }
            }
            read_any = true;
        };
        if !read_any || (text.is_empty() && plain) {
            return Ok(None);
        }
        Ok(Some((Word { text, plain }, end)))
    }

    /// The rest of a double-quoted stretch, after its opening quote.
    fn double_quoted(&mut self, text: &mut String) -> Result<(), SyntaxError> {
        loop {
            match self.bump() {
                None => return Err(SyntaxError),
                Some('"') => return Ok(()),
                Some('\\') if self.backslash == Backslash::Escapes => match self.peek() {
                    Some('\n') => {
                        self.bump();
                    }
                    Some(c @ ('$' | '`' | '"' | '\\')) => {
                        self.bump();
                        text.push(c);
                    }
                    _ => text.push('\\'),
                },
                Some(c) => text.push(c),
            }
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn bump(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.next);
        self.next += 1;
        token
    }

    /// The reserved word at the cursor, if the next token is one.
    fn keyword(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Word(Word { text, plain: true })) => match text.as_str() {
                word @ ("if" | "then" | "else" | "elif" | "fi") => Some(word),
                _ => None,
            },
            _ => None,
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Token::Newline) {
            self.bump();
        }
    }

    /// And-or lists up to the end or to one of `terminators` (reserved words) where a command
    /// would start.
    fn list(&mut self, terminators: &[&str]) -> Result<Script, SyntaxError> {
        let mut script = Script::default();
        loop {
            self.skip_newlines();
            match self.peek() {
                None => return Ok(script),
                Some(Token::Word(_)) => {
                    if self.keyword().is_some_and(|k| terminators.contains(&k)) {
                        return Ok(script);
                    }
                }
                Some(_) => return Err(SyntaxError),
            }
            let mut item = self.and_or()?;
            match self.peek() {
                None | Some(Token::Newline) => {}
                Some(Token::Semicolon) => {
                    self.bump();
                }
                Some(Token::Ampersand) => {
                    self.bump();
                    item.background = true;
                }
                Some(_) => return Err(SyntaxError),
            }
            script.items.push(item);
        }
    }

    fn and_or(&mut self) -> Result<AndOr, SyntaxError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek() {
                Some(Token::AndAnd) => Connector::And,
                Some(Token::OrOr) => Connector::Or,
                _ => break,
            };
            self.bump();
            self.skip_newlines();
            rest.push((connector, self.pipeline()?));
        }
        Ok(AndOr {
            first,
            rest,
            background: false,
        })
    }

    fn pipeline(&mut self) -> Result<Pipeline, SyntaxError> {
        let negated =
            matches!(self.peek(), Some(Token::Word(Word { text, plain: true })) if text == "!");
        if negated {
            self.bump();
        }
        let mut commands = vec![self.command()?];
        while self.peek() == Some(&Token::Pipe) {
            self.bump();
            self.skip_newlines();
            commands.push(self.command()?);
        }
        Ok(Pipeline { negated, commands })
    }

    fn command(&mut self) -> Result<Command, SyntaxError> {
        match self.keyword() {
            Some("if") => return self.if_clause(),
            Some(_) => return Err(SyntaxError),
            None => {}
        }
        let mut words = Vec::new();
        while let Some(Token::Word(word)) = self.peek() {
            words.push(word.text.clone());
            self.bump();
        }
        if words.is_empty() {
            return Err(SyntaxError);
        }
        Ok(Command::Simple(words))
    }

    fn if_clause(&mut self) -> Result<Command, SyntaxError> {
        self.bump();
        let condition = self.non_empty_list(&["then"])?;
        self.expect("then")?;
        let then_branch = self.non_empty_list(&["else", "elif", "fi"])?;
        let else_branch = if self.keyword() == Some("else") {
            self.bump();
            Some(self.non_empty_list(&["fi"])?)
        } else {
            None
        };
        self.expect("fi")?;
        match self.peek() {
            // `fi` ends a command: an operator, a separator or the end may follow, not a word.
            Some(Token::Word(_)) => Err(SyntaxError),
            _ => Ok(Command::If(Box::new(IfClause {
                condition,
                then_branch,
                else_branch,
            }))),
        }
    }

    fn non_empty_list(&mut self, terminators: &[&str]) -> Result<Script, SyntaxError> {
        let script = self.list(terminators)?;
        if script.items.is_empty() {
            return Err(SyntaxError);
        }
        Ok(script)
    }

    fn expect(&mut self, keyword: &str) -> Result<(), SyntaxError> {
        if self.keyword() != Some(keyword) {
            return Err(SyntaxError);
        }
        self.bump();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple(words: &[&str]) -> Command {
        Command::Simple(words.iter().map(|w| w.to_string()).collect())
    }

    fn single(command: Command) -> AndOr {
        AndOr {
            first: Pipeline {
                negated: false,
                commands: vec![command],
            },
            rest: vec![],
            background: false,
        }
    }

    /// Every simple command of a script of simple commands, as word lists.
    fn statements(content: &str, backslash: Backslash) -> Vec<Vec<String>> {
        let script = parse(content, backslash).expect("parses");
        script
            .items
            .iter()
            .flat_map(|item| {
                std::iter::once(&item.first)
                    .chain(item.rest.iter().map(|(_, p)| p))
                    .flat_map(|p| p.commands.iter())
            })
            .map(|c| match c {
                Command::Simple(words) => words.clone(),
                Command::If(_) => panic!("an if"),
            })
            .collect()
    }

    #[test]
    fn splits_words_like_sh() {
        let got = statements(
            r#"a 'b c' "d \"e\" \$f \x" g\ h i\\j "" '' k#l #comment"#,
            Backslash::Escapes,
        );
        assert_eq!(
            got,
            vec![vec![
                "a",
                "b c",
                r#"d "e" $f \x"#,
                "g h",
                r"i\j",
                "",
                "",
                "k#l"
            ]]
        );
    }

    #[test]
    fn windows_backslashes_are_literal() {
        let got = statements(
            r#"C:\ProgramData\aliyun\assist\acs-plugin-manager.exe --params "a\b" c\"#,
            Backslash::Literal,
        );
        assert_eq!(
            got,
            vec![vec![
                r"C:\ProgramData\aliyun\assist\acs-plugin-manager.exe",
                "--params",
                r"a\b",
                r"c\"
            ]]
        );
    }

    #[test]
    fn joins_lines_and_treats_carriage_returns_as_blanks() {
        assert_eq!(
            statements("a \\\n b\r\nc\r\n", Backslash::Escapes),
            vec![vec!["a", "b"], vec!["c"]]
        );
    }

    #[test]
    fn drops_redirections() {
        let got = statements(
            "a 2>&1 > out b >>'log file' 1>/dev/null &>/dev/null 3>&- < in c 2> err\nd>x",
            Backslash::Escapes,
        );
        assert_eq!(got, vec![vec!["a", "b", "c"], vec!["d"]]);
        // A quoted number before `>` is a word, not a descriptor.
        assert_eq!(
            statements("a '2'>x", Backslash::Escapes),
            vec![vec!["a", "2"]]
        );
    }

    #[test]
    fn reads_separators_and_connectors() {
        let script = parse("a; b && c || d & e\n\n f", Backslash::Escapes).unwrap();
        assert_eq!(script.items.len(), 4);
        assert_eq!(script.items[0], single(simple(&["a"])));
        assert_eq!(script.items[1].rest.len(), 2);
        assert_eq!(script.items[1].rest[0].0, Connector::And);
        assert_eq!(script.items[1].rest[1].0, Connector::Or);
        assert!(script.items[1].background);
        assert!(!script.items[2].background);
        assert_eq!(script.items[3], single(simple(&["f"])));
        // `&&` may be followed by newlines.
        assert_eq!(
            statements("a &&\n\n b", Backslash::Escapes),
            vec![vec!["a"], vec!["b"]]
        );
    }

    #[test]
    fn reads_an_if_with_and_without_else() {
        let script = parse(
            "if m --list --local | grep -q x > /dev/null 2>&1; then a; else b; fi",
            Backslash::Escapes,
        )
        .unwrap();
        let Command::If(clause) = &script.items[0].first.commands[0] else {
            panic!("not an if")
        };
        assert_eq!(clause.condition.items[0].first.commands.len(), 2);
        assert_eq!(clause.then_branch.items, vec![single(simple(&["a"]))]);
        assert_eq!(
            clause.else_branch.as_ref().unwrap().items,
            vec![single(simple(&["b"]))]
        );

        let script = parse("if ! c\nthen\n  a\n  b\nfi\n", Backslash::Escapes).unwrap();
        let Command::If(clause) = &script.items[0].first.commands[0] else {
            panic!("not an if")
        };
        assert!(clause.condition.items[0].first.negated);
        assert_eq!(clause.then_branch.items.len(), 2);
        assert_eq!(clause.else_branch, None);
    }

    #[test]
    fn reserved_words_count_only_plain_and_first() {
        assert_eq!(
            statements("echo if then fi; 'if' x", Backslash::Escapes),
            vec![vec!["echo", "if", "then", "fi"], vec!["if", "x"]]
        );
    }

    #[test]
    fn refuses_what_sh_refuses() {
        for content in [
            "a 'b",
            "a \"b",
            "a;; b",
            "; a",
            "&& a",
            "a &&",
            "a ||",
            "a |",
            "a | | b",
            "a >",
            "a 2>",
            "a > ; b",
            "cat <<EOF\nx\nEOF",
            "if a; then b",
            "if a; then b; fi c",
            "if a; then fi",
            "if; then a; fi",
            "if a; then b; else fi",
            "if a; then b; elif c; then d; fi",
            "then a",
            "fi",
            "a && fi",
            "!",
            "a & & b",
        ] {
            assert_eq!(
                parse(content, Backslash::Escapes),
                Err(SyntaxError),
                "{content:?}"
            );
        }
    }

    #[test]
    fn reads_empty_and_blank_content() {
        for content in ["", "\n\n", "  # only a comment\n", " \t\r\n"] {
            assert_eq!(
                parse(content, Backslash::Escapes),
                Ok(Script::default()),
                "{content:?}"
            );
        }
    }

    #[test]
    fn splits_params_like_sh_without_operators() {
        assert_eq!(
            split_words(r#"--start 'a b' "c;d" e|f>g \#h #tail"#),
            vec!["--start", "a b", "c;d", "e|f>g", "#h"]
        );
        assert_eq!(split_words("  "), Vec::<String>::new());
        assert_eq!(split_words("a 'b c"), vec!["a"]);
    }
}
