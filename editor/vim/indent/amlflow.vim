" Vim indent file for amlflow (.amlflow) files: one 'shiftwidth' per open {, [ or (,
" and a line that starts with a closing one lines up with the line that opened it.
" Comments and the text of """ strings do not count.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal indentexpr=AmlflowIndent(v:lnum)
setlocal indentkeys=0{,0},0),0],!^F,o,O,e
setlocal autoindent nolisp nosmartindent nocindent

let b:undo_indent = 'setlocal indentexpr< indentkeys< autoindent< lisp< smartindent< cindent<'

if exists('*AmlflowIndent')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

" The syntax groups at a position; the column may be one past the end, which works on an
" empty line too.
function! s:GroupsAt(lnum, col) abort
  return map(synstack(a:lnum, a:col), 'synIDattr(v:val, "name")')
endfunction

" Whether a line starts inside a block comment or a """ string that began above it: its
" text, spaces included, is kept as written.
function! s:InBlockText(lnum) abort
  let groups = s:GroupsAt(a:lnum, 1)
  if index(groups, 'amlflowTripleString') >= 0
    return 1
  endif
  return index(groups, 'amlflowBlockComment') >= 0 && getline(a:lnum) !~# '^/\*'
endfunction

" Whether a line holds only a comment.
function! s:CommentOnly(lnum) abort
  let groups = s:GroupsAt(a:lnum, indent(a:lnum) + 1)
  return !empty(groups) && groups[-1] =~# 'Comment$'
endfunction

" The nearest line above that holds code.
function! s:CodeLineAbove(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  while prev > 0 && (s:InBlockText(prev) || s:CommentOnly(prev))
    let prev = prevnonblank(prev - 1)
  endwhile
  return prev
endfunction

" Brackets opened minus brackets closed on a line, leaving out strings, comments and the
" closing brackets the line starts with (those already moved the line itself left).
function! s:Balance(lnum) abort
  let code = getline(a:lnum)
  let code = substitute(code, '"""\%(\%("""\)\@!.\)*\%("""\)\=', '', 'g')
  let code = substitute(code, '"\%(\\.\|[^"\\]\)*"\=', '', 'g')
  let code = substitute(code, '/\*.\{-}\%(\*/\|$\)', '', 'g')
  let code = substitute(code, '//.*$', '', '')
  let code = substitute(code, '^\s*[}\])]\+', '', '')
  let opened = len(substitute(code, '[^{[(]', '', 'g'))
  let closed = len(substitute(code, '[^}\])]', '', 'g'))
  return opened - closed
endfunction

function! AmlflowIndent(lnum) abort
  if s:InBlockText(a:lnum)
    return -1
  endif
  let prev = s:CodeLineAbove(a:lnum)
  if prev == 0
    return 0
  endif
  let ind = indent(prev)
  let balance = s:Balance(prev)
  if balance > 0
    let ind += shiftwidth()
  elseif balance < 0
    let ind -= shiftwidth()
  endif
  if getline(a:lnum) =~# '^\s*[}\])]'
    let ind -= shiftwidth()
  endif
  return max([0, ind])
endfunction

let &cpo = s:cpo_save
unlet s:cpo_save
