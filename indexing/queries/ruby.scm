; Ruby: classes, modules, methods, singleton methods, constants, requires.

(class
  name: [(constant) (scope_resolution name: (_))] @name) @definition.class

(module
  name: [(constant) (scope_resolution name: (_))] @name) @definition.module

(method
  name: (_) @name) @definition.method

(singleton_method
  name: (_) @name) @definition.method

(assignment
  left: (constant) @name) @definition.constant

(call
  method: (identifier) @_m
  arguments: (argument_list . (string (string_content) @import.module))
  (#any-of? @_m "require" "require_relative" "load")) @import
