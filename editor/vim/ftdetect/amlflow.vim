" amlflow pipeline files
autocmd BufNewFile,BufRead *.amlflow setfiletype amlflow
