; Elixir: modules, protocols, functions and macros (clauses merge into one), imports.

(call
  target: (identifier) @_kw
  (arguments . (alias) @name)
  (#any-of? @_kw "defmodule" "defprotocol")) @definition.module

(call
  target: (identifier) @_kw
  (arguments
    .
    [
      (call target: (identifier) @name)
      (identifier) @name
      (binary_operator left: (call target: (identifier) @name))
    ])
  (#any-of? @_kw "def" "defp" "defdelegate" "defguard" "defguardp")) @definition.function

(call
  target: (identifier) @_kw
  (arguments
    .
    [
      (call target: (identifier) @name)
      (identifier) @name
      (binary_operator left: (call target: (identifier) @name))
    ])
  (#any-of? @_kw "defmacro" "defmacrop")) @definition.macro

(call
  target: (identifier) @_kw
  (arguments . (alias) @import.module)
  (#any-of? @_kw "import" "alias" "require" "use")) @import
