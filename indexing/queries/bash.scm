; Bash: functions, top-level variables, sourced files.

(function_definition
  name: (word) @name) @definition.function

(program
  (variable_assignment
    name: (variable_name) @name) @definition.variable)

(program
  (declaration_command
    (variable_assignment
      name: (variable_name) @name)) @definition.variable)

(command
  name: (command_name (word) @_cmd)
  argument: (_) @import.module
  (#any-of? @_cmd "source" ".")) @import
