; Haskell: types, classes, top-level functions (signature and clauses merge into one).

(declarations (data_type name: (name) @name) @definition.type)
(declarations (newtype name: (name) @name) @definition.type)
(declarations (type_synonym name: (name) @name) @definition.type)
(declarations (type_family name: (name) @name) @definition.type)
(declarations (class name: (name) @name) @definition.interface)

(class_declarations
  (signature name: (variable) @name) @definition.method)

(declarations (signature name: (variable) @name) @definition.function)
(declarations (function name: (variable) @name) @definition.function)
(declarations (bind name: (variable) @name) @definition.function)

(import
  module: (module) @import.module) @import
