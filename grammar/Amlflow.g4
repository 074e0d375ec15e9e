// The amlflow language. Generated into the build tree at build time (never committed);
// only compiler/parse_driver.cc includes the generated code.
//
// The grammar is deliberately loose about which fields a block holds: every block is a
// list of `name = value` members, and compiler/schema.cc says which names each kind of
// block accepts. That keeps the grammar small and lets the checker word its errors.
grammar Amlflow;

file
    : topDecl* EOF
    ;

// Entry point for `${...}` interpolations and `--set` values, parsed on their own.
standaloneExpr
    : expr EOF
    ;

// One step on its own, then the end: the parse driver parses an experiment a step at a
// time (compiler/parse_chunks.cc), so the parse tree never holds more than one step.
stepChunk
    : step EOF
    ;

topDecl
    : importDecl
    | paramDecl
    | letDecl
    | workspaceDecl
    | environmentDecl
    | computeDecl
    | experimentDecl
    ;

importDecl      : IMPORT STRING (AS ident)? ;
paramDecl       : PARAM ident ':' typeRef ('=' expr)? ;
letDecl         : LET ident '=' expr ;
workspaceDecl   : WORKSPACE ident block ;
environmentDecl : ENVIRONMENT ident (FROM qualifiedName)? block ;
computeDecl     : COMPUTE ident ':' ident block ;
experimentDecl  : EXPERIMENT ident '{' step* '}' ;

step
    : jobStep
    | sweepStep
    | registerStep
    | exportStep
    | downloadStep
    ;

// `job train(lr: float = 0.1) { ... }` declares a job (a template when it has
// parameters); `job small = train(lr = 0.5) { ... }` binds a template.
jobStep
    : JOB ident jobParams? block
    | JOB ident '=' ident '(' args? ')' block?
    ;
jobParams       : '(' (jobParam (',' jobParam)* ','?)? ')' ;
jobParam        : ident ':' typeRef ('=' expr)? ;
sweepStep       : SWEEP ident OVER ident block ;
registerStep    : REGISTER MODEL ident block ;
exportStep      : EXPORT ONNX ident block ;
downloadStep    : DOWNLOAD ident block ;

block
    : '{' (member ','?)* '}'
    ;

member
    : memberKey '=' expr    # assignMember
    | ident block           # blockMember
    ;

memberKey
    : ident
    | STRING
    ;

typeRef
    : ident ('[' typeRef ']')?
    ;

qualifiedName
    : ident ('.' ident)*
    ;

expr
    : expr '.' ident                        # memberExpr
    | '-' expr                              # negateExpr
    | expr op=('*' | '/' | '%') expr        # multiplyExpr
    | expr op=('+' | '-') expr              # addExpr
    | primary                               # primaryExpr
    ;

primary
    : literal                               # literalPrimary
    | ident '(' args? ')'                   # callPrimary
    | ident block                           # constructPrimary
    | ident                                 # namePrimary
    | '[' (expr (',' expr)* ','?)? ']'      # listPrimary
    | block                                 # mapPrimary
    | '(' expr ')'                          # parenPrimary
    ;

args
    : arg (',' arg)* ','?
    ;

arg
    : ident '=' expr
    | expr
    ;

literal
    : INT
    | FLOAT
    | DURATION
    | SIZE
    | STRING
    | TRIPLE_STRING
    | UNTERMINATED_STRING   // reported by the AST builder, so no cascade follows
    | BAD_NUMBER            // likewise: "unknown unit 'min'"
    | TRUE
    | FALSE
    ;

// Keywords are reserved only where they start a declaration or a step: they stay
// usable as field names (`environment = torch`, `model = ...`).
ident
    : ID
    | IMPORT | AS | PARAM | LET | WORKSPACE | ENVIRONMENT | COMPUTE | EXPERIMENT
    | JOB | SWEEP | OVER | REGISTER | MODEL | EXPORT | ONNX | DOWNLOAD | FROM
    ;

IMPORT      : 'import' ;
AS          : 'as' ;
PARAM       : 'param' ;
LET         : 'let' ;
WORKSPACE   : 'workspace' ;
ENVIRONMENT : 'environment' ;
COMPUTE     : 'compute' ;
EXPERIMENT  : 'experiment' ;
JOB         : 'job' ;
SWEEP       : 'sweep' ;
OVER        : 'over' ;
REGISTER    : 'register' ;
MODEL       : 'model' ;
EXPORT      : 'export' ;
ONNX        : 'onnx' ;
DOWNLOAD    : 'download' ;
FROM        : 'from' ;
TRUE        : 'true' ;
FALSE       : 'false' ;

LBRACE   : '{' ;
RBRACE   : '}' ;
LPAREN   : '(' ;
RPAREN   : ')' ;
LBRACKET : '[' ;
RBRACKET : ']' ;
ASSIGN   : '=' ;
COLON    : ':' ;
COMMA    : ',' ;
DOT      : '.' ;
PLUS     : '+' ;
MINUS    : '-' ;
STAR     : '*' ;
SLASH    : '/' ;
PERCENT  : '%' ;

// Units are case-sensitive: `m` is minutes, `MB` is megabytes.
DURATION : DIGITS ('.' DIGITS)? ('ms' | 's' | 'm' | 'h' | 'd') ;
SIZE     : DIGITS ('.' DIGITS)? ('B' | 'KB' | 'MB' | 'GB' | 'TB' | 'KiB' | 'MiB' | 'GiB' | 'TiB') ;
FLOAT    : DIGITS '.' DIGITS EXPONENT? | DIGITS EXPONENT ;
INT      : DIGITS ;
// A number glued to letters that are no unit (`10min`): one token, so the AST builder
// can name the unit instead of the parser tripping over the letters.
BAD_NUMBER : DIGITS ('.' DIGITS)? [a-zA-Z_] [a-zA-Z_0-9]* ;

TRIPLE_STRING : '"""' .*? '"""' ;
STRING        : '"' (ESCAPE | ~["\\\r\n])* '"' ;
// A string that reaches the end of its line: kept as a token so the compiler can say
// "unterminated string" instead of a cascade of syntax errors.
UNTERMINATED_STRING : '"' (ESCAPE | ~["\\\r\n])* ;

ID : [a-zA-Z_] [a-zA-Z_0-9]* ;

LINE_COMMENT  : '//' ~[\r\n]* -> channel(HIDDEN) ;
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN) ;
// A '/*' that reaches the end of the file; it cannot contain '*/', so it never wins over
// a closed comment.
UNTERMINATED_COMMENT : '/*' (~'*' | '*'+ ~[*/])* '*'* EOF ;
// Spaces are skipped, not kept: positions are in the tokens, and a file is mostly spaces.
WS            : [ \t\r\n]+ -> skip ;

// Anything else is one bad character; the parse driver reports it by name.
BAD_CHAR : . ;

fragment DIGITS   : [0-9]+ ;
fragment EXPONENT : [eE] [+-]? DIGITS ;
fragment ESCAPE   : '\\' . ;
