; OCaml: modules, types, top-level values and functions, classes, externals, opens.

(module_definition
  (module_binding (module_name) @name)) @definition.module

(module_type_definition
  (module_type_name) @name) @definition.interface

(type_definition
  (type_binding name: (type_constructor) @name)) @definition.type

(compilation_unit
  (value_definition
    (let_binding pattern: (value_name) @name)) @definition.function)

(structure
  (value_definition
    (let_binding pattern: (value_name) @name)) @definition.function)

(external
  (value_name) @name) @definition.function

(class_definition
  (class_binding (class_name) @name)) @definition.class

(method_definition
  (method_name) @name) @definition.method

(open_module
  module: (module_path) @import.module) @import
