; Lua: functions (`M.f` and `M:f` qualified by their table), requires.

(function_declaration
  name: (identifier) @name) @definition.function

(function_declaration
  name: (dot_index_expression
    table: (_) @receiver
    field: (identifier) @name)) @definition.method

(function_declaration
  name: (method_index_expression
    table: (_) @receiver
    method: (identifier) @name)) @definition.method

(chunk
  (variable_declaration
    (assignment_statement
      (variable_list name: (identifier) @name)
      (expression_list value: (function_definition)))) @definition.function)

(function_call
  name: (identifier) @_require
  arguments: (arguments (string content: (string_content) @import.module))
  (#eq? @_require "require")) @import
