" Vim syntax file for amlflow (.amlflow) pipeline files.
"
" The word lists below are the same as those of the ANTLR grammar (grammar/Amlflow.g4),
" the VS Code grammar (editor/vscode/syntaxes/amlflow.tmLanguage.json) and the compiler
" (compiler/builtins.cc, compiler/schema.cc); tests/editor/keywords.test.js fails when
" they disagree, so change them together.
if exists('b:current_syntax')
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

let s:keywords = ['import', 'as', 'param', 'let', 'workspace', 'environment', 'compute',
      \ 'experiment', 'job', 'sweep', 'over', 'register', 'model', 'export', 'onnx',
      \ 'download', 'from']
let s:booleans = ['true', 'false']
let s:types = ['int', 'float', 'bool', 'string', 'duration', 'size', 'path', 'list']
let s:builtins = ['env', 'file', 'url', 'glob', 'choice', 'uniform', 'loguniform',
      \ 'quniform', 'qloguniform', 'normal', 'lognormal', 'randint', 'maximize', 'minimize']
" Compute kinds, distributions and early-stop policies.
let s:kinds = ['local', 'hosts', 'amlcompute', 'pytorch', 'per_node', 'mpi', 'bandit',
      \ 'median', 'truncation']
" Words some fields take unquoted: sampling, priority, gpus, distribution, early_stop.
let s:bare_words = ['random', 'grid', 'bayesian', 'dedicated', 'low_priority', 'all', 'none']
let s:duration_units = ['ms', 's', 'm', 'h', 'd']
let s:size_units = ['B', 'KB', 'MB', 'GB', 'TB', 'KiB', 'MiB', 'GiB', 'TiB']

function! s:Words(list) abort
  return '\%(' . join(a:list, '\|') . '\)'
endfunction

syntax case match
syntax sync minlines=200

" Later items win where two start at the same place, so the general ones come first.
syntax match amlflowIdentifier /\<\h\w*\>/
syntax match amlflowOperator /[=+\-*%]/
syntax match amlflowOperator +/[/*]\@!+
syntax match amlflowDelimiter /[{}()\[\],:.]/
syntax match amlflowError /[#;'$]/

" A name before `=` is a field, map key or named argument, even when it is a keyword
" (`environment = torch`): keywords are reserved only where a declaration starts.
syntax match amlflowField /\<\h\w*\ze\s*=/
syntax match amlflowBlockMember /\<\h\w*\ze\s*{/
syntax match amlflowMember /\.\@1<=\s*\h\w*/
syntax match amlflowParameter /\<\h\w*\ze\s*:/

let s:not_a_name = '\.\@1<!\<%s\>\%(\s*[=:(.]\)\@!'
execute 'syntax match amlflowKeyword /' . printf(s:not_a_name, s:Words(s:keywords)) . '/'
execute 'syntax match amlflowKind /' . printf(s:not_a_name, s:Words(s:kinds)) . '/'
execute 'syntax match amlflowConstant /' . printf(s:not_a_name, s:Words(s:bare_words)) . '/'
execute 'syntax keyword amlflowBoolean ' . join(s:booleans)
execute 'syntax match amlflowType /\%(\%(:\|\[\)\s*\)\@<=\<' . s:Words(s:types) . '\>/'
syntax match amlflowCall /\<\h\w*\ze\s*(/
execute 'syntax match amlflowBuiltin /\<' . s:Words(s:builtins) . '\ze\s*(/'

" The declared name after a declaration or step keyword.
syntax match amlflowDeclName /\%(\<\%(param\|let\|workspace\|environment\|compute\|experiment\|job\|sweep\|download\)\s\+\)\@<=\h\w*/
syntax match amlflowDeclName /\%(\<over\s\+\)\@<=\h\w*/
syntax match amlflowDeclName /\%(\<\%(register\s\+model\|export\s\+onnx\)\s\+\)\@<=\h\w*/

" Numbers; a number glued to letters that are no unit (`10min`) is an error.
syntax match amlflowBadNumber /\<\d\+\%(\.\d\+\)\=\h\w*/
syntax match amlflowNumber /\<\d\+\>/
syntax match amlflowFloat /\<\d\+\.\d\+\%([eE][+-]\=\d\+\)\=\>/
syntax match amlflowFloat /\<\d\+[eE][+-]\=\d\+\>/
execute 'syntax match amlflowDuration /\<\d\+\%(\.\d\+\)\=' . s:Words(s:duration_units) . '\>/'
execute 'syntax match amlflowSize /\<\d\+\%(\.\d\+\)\=' . s:Words(s:size_units) . '\>/'

" Strings: escapes and ${...} interpolation. Inside "...", an interpolation quotes its
" own strings as \"...\"; inside """...""", with plain quotes.
syntax match amlflowEscape contained /\\[ntr0\\"$]/
syntax match amlflowBadEscape contained /\\[^ntr0\\"$]/
syntax cluster amlflowExpr contains=amlflowIdentifier,amlflowOperator,amlflowDelimiter,amlflowField,amlflowMember,amlflowKind,amlflowConstant,amlflowBoolean,amlflowBuiltin,amlflowNumber,amlflowFloat,amlflowDuration,amlflowSize,amlflowBadNumber
syntax region amlflowInnerString contained start=/\\"/ end=/\\"/ end=/"\@=/ oneline
syntax region amlflowInterpolation contained matchgroup=amlflowInterpolationDelimiter start=/\${/ end=/}/ end=/"\@=/ contains=@amlflowExpr,amlflowInnerString,amlflowInterpolationBraces oneline
syntax region amlflowInterpolationBraces contained matchgroup=amlflowDelimiter start=/{/ end=/}/ end=/"\@=/ contains=@amlflowExpr,amlflowInnerString,amlflowInterpolationBraces
syntax region amlflowTripleInterpolation contained matchgroup=amlflowInterpolationDelimiter start=/\${/ end=/}/ contains=@amlflowExpr,amlflowString,amlflowTripleInterpolationBraces
syntax region amlflowTripleInterpolationBraces contained matchgroup=amlflowDelimiter start=/{/ end=/}/ contains=@amlflowExpr,amlflowString,amlflowTripleInterpolationBraces
syntax region amlflowString start=/"/ skip=/\\\\\|\\"/ end=/"/ end=/$/ contains=amlflowEscape,amlflowBadEscape,amlflowInterpolation
syntax region amlflowTripleString start=/"""/ end=/"""/ contains=amlflowEscape,amlflowBadEscape,amlflowTripleInterpolation

" Comments last: `//` and `/*` win over the `/` operator.
syntax keyword amlflowTodo contained TODO FIXME XXX NOTE
syntax region amlflowLineComment start=+//+ end=+$+ contains=amlflowTodo,@Spell
syntax region amlflowBlockComment start=+/\*+ end=+\*/+ contains=amlflowTodo,@Spell

highlight default link amlflowKeyword Keyword
highlight default link amlflowDeclName Function
highlight default link amlflowKind Type
highlight default link amlflowType Type
highlight default link amlflowConstant Constant
highlight default link amlflowBoolean Boolean
highlight default link amlflowBuiltin Function
highlight default link amlflowCall Function
highlight default link amlflowField Identifier
highlight default link amlflowBlockMember Identifier
highlight default link amlflowParameter Identifier
highlight default link amlflowMember NONE
highlight default link amlflowIdentifier NONE
highlight default link amlflowOperator Operator
highlight default link amlflowDelimiter Delimiter
highlight default link amlflowNumber Number
highlight default link amlflowFloat Float
highlight default link amlflowDuration Number
highlight default link amlflowSize Number
highlight default link amlflowBadNumber Error
highlight default link amlflowString String
highlight default link amlflowTripleString String
highlight default link amlflowInnerString String
highlight default link amlflowEscape SpecialChar
highlight default link amlflowBadEscape Error
highlight default link amlflowInterpolationDelimiter Delimiter
highlight default link amlflowError Error
highlight default link amlflowTodo Todo
highlight default link amlflowLineComment Comment
highlight default link amlflowBlockComment Comment

let b:current_syntax = 'amlflow'
let &cpo = s:cpo_save
unlet s:cpo_save
