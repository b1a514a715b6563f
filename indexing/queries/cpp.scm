; C++: the C definitions plus classes, namespaces, methods in and out of their class.

(function_definition
  declarator: [
    (function_declarator declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)
    (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name))
    (reference_declarator (function_declarator declarator: [(identifier) (field_identifier)] @name))
  ]) @definition.function

(function_definition
  declarator: [
    (function_declarator
      declarator: (qualified_identifier
        scope: (_) @receiver
        name: [(identifier) (operator_name) (destructor_name)] @name))
    (function_declarator
      declarator: (qualified_identifier
        name: (qualified_identifier
          scope: (_) @receiver
          name: [(identifier) (operator_name) (destructor_name)] @name)))
    (pointer_declarator
      declarator: (function_declarator
        declarator: (qualified_identifier scope: (_) @receiver name: (identifier) @name)))
    (reference_declarator
      (function_declarator
        declarator: (qualified_identifier scope: (_) @receiver name: (identifier) @name)))
  ]) @definition.method

(field_declaration_list
  [
    (field_declaration declarator: (function_declarator declarator: (field_identifier) @name))
    (declaration declarator: (function_declarator declarator: [(identifier) (field_identifier) (destructor_name)] @name))
  ] @definition.method)

(class_specifier
  name: (type_identifier) @name
  body: (_)) @definition.class

(struct_specifier
  name: (type_identifier) @name
  body: (_)) @definition.struct

(union_specifier
  name: (type_identifier) @name
  body: (_)) @definition.struct

(enum_specifier
  name: (type_identifier) @name
  body: (_)) @definition.enum

(namespace_definition
  name: (_) @name) @definition.module

(type_definition
  declarator: (type_identifier) @name) @definition.type

(alias_declaration
  name: (type_identifier) @name) @definition.type

(preproc_def
  name: (identifier) @name) @definition.constant

(preproc_function_def
  name: (identifier) @name) @definition.macro

(preproc_include
  path: (_) @import.module) @import

(using_declaration
  [(qualified_identifier) (identifier)] @import.module) @import
