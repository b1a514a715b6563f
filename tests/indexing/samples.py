"""One small real source file per language, and the definitions each must yield."""

from __future__ import annotations

# file name -> (source, {qualified name: kind}, imported modules)
SAMPLES: dict[str, tuple[str, dict[str, str], set[str]]] = {
    "app.py": (
        '''import os
from collections import OrderedDict as OD

MAX_SIZE = 10


class Store(Base):
    """Keeps things."""

    def put(self, key: str, value: int) -> None:
        pass


# Says hello.
def greet(name):
    return name
''',
        {"MAX_SIZE": "constant", "Store": "class", "Store.put": "method", "greet": "function"},
        {"os", "collections"},
    ),
    "web.js": (
        """import { render } from "./view.js";
const fs = require("fs");
const LIMIT = 5;

/** A widget. */
export class Widget {
  draw(ctx) { return ctx; }
}

function helper(a) { return a; }
const arrow = (x) => x * 2;
""",
        {"LIMIT": "constant", "Widget": "class", "Widget.draw": "method",
         "helper": "function", "arrow": "function"},
        {"./view.js", "fs"},
    ),
    "api.ts": (
        """import { Request } from "express";

export interface Handler { handle(req: Request): void; }
export type Id = string;
enum Color { Red, Green }
namespace Util { export function pad(s: string): string { return s; } }

export class Server implements Handler {
  handle(req: Request): void {}
}
export function start(port: number): Server { return new Server(); }
""",
        {"Handler": "interface", "Handler.handle": "method", "Id": "type", "Color": "enum",
         "Util": "module", "Util.pad": "function", "Server": "class",
         "Server.handle": "method", "start": "function"},
        {"express"},
    ),
    "view.tsx": (
        """import React from "react";
export function Button(props: { label: string }) {
  return <button>{props.label}</button>;
}
""",
        {"Button": "function"},
        {"react"},
    ),
    "main.go": (
        """package main

import (
\t"fmt"
\t"net/http"
)

const Version = "1.0"

// Server serves.
type Server struct{ port int }

type Runner interface{ Run() error }

func (s *Server) Start() error { return nil }

func main() { fmt.Println(http.StatusOK) }
""",
        {"Version": "constant", "Server": "struct", "Runner": "interface",
         "Runner.Run": "method", "Server.Start": "method", "main": "function"},
        {"fmt", "net/http"},
    ),
    "lib.rs": (
        """use std::collections::HashMap;

pub const LIMIT: usize = 3;

/// A point.
pub struct Point { x: i32 }

pub trait Shape { fn area(&self) -> f64; }

impl Point {
    pub fn new(x: i32) -> Self { Point { x } }
}

enum Kind { A, B }

fn free() {}
""",
        {"LIMIT": "constant", "Point": "struct", "Shape": "trait", "Shape.area": "method",
         "Point.new": "method", "Kind": "enum", "free": "function"},
        {"std::collections::HashMap"},
    ),
    "Main.java": (
        """package app;

import java.util.List;

public class Main {
    static final int LIMIT = 3;
    public Main() {}
    /** Runs. */
    public void run(List<String> args) {}
    interface Listener { void on(); }
}
""",
        {"Main": "class", "Main.LIMIT": "constant", "Main.Main": "method",
         "Main.run": "method", "Main.Listener": "interface", "Main.Listener.on": "method"},
        {"java.util.List"},
    ),
    "util.c": (
        """#include <stdio.h>
#include "util.h"
#define SIZE 16

struct node { int v; };
typedef int myint;

/* Adds. */
int add(int a, int b) { return a + b; }
static char *name(void) { return "x"; }
""",
        {"SIZE": "constant", "node": "struct", "myint": "type", "add": "function",
         "name": "function"},
        {"stdio.h", "util.h"},
    ),
    "shape.cpp": (
        """#include <vector>

namespace geo {
class Shape {
public:
    virtual double area() const;
    int sides() { return 0; }
};
}

double geo::Shape::area() const { return 1.0; }
int main() { return 0; }
""",
        {"geo": "module", "geo.Shape": "class", "geo.Shape.area": "method",
         "geo.Shape.sides": "method", "Shape.area": "method", "main": "function"},
        {"vector"},
    ),
    "Program.cs": (
        """using System;
using System.Collections.Generic;

namespace App {
    public interface IRun { void Run(); }
    public class Program {
        const int Limit = 3;
        public string Name { get; set; }
        public static void Main(string[] args) {}
    }
}
""",
        {"App": "module", "App.IRun": "interface", "App.IRun.Run": "method",
         "App.Program": "class", "App.Program.Limit": "constant",
         "App.Program.Name": "variable", "App.Program.Main": "method"},
        {"System", "System.Collections.Generic"},
    ),
    "model.rb": (
        """require "json"
require_relative "base"

module Shop
  VERSION = "1.0"
  class Cart < Base
    def add(item)
      item
    end
    def self.create
      new
    end
  end
end
""",
        {"Shop": "module", "Shop.VERSION": "constant", "Shop.Cart": "class",
         "Shop.Cart.add": "method", "Shop.Cart.create": "method"},
        {"json", "base"},
    ),
    "index.php": (
        """<?php
namespace App\\Http;

use App\\Models\\User;
require_once "config.php";

const VERSION = "1";

interface Action { public function run(); }

class Controller {
    public function show(User $u) { return $u; }
}

function helper() {}
""",
        {"App\\Http": "module", "VERSION": "constant", "Action": "interface",
         "Action.run": "method", "Controller": "class", "Controller.show": "method",
         "helper": "function"},
        {"App\\Models\\User", "config.php"},
    ),
    "deploy.sh": (
        """#!/bin/bash
source ./lib.sh
TARGET=prod

deploy() {
  echo "$TARGET"
}

function cleanup {
  rm -rf /tmp/x
}
""",
        {"TARGET": "variable", "deploy": "function", "cleanup": "function"},
        {"./lib.sh"},
    ),
    "App.kt": (
        """package app

import kotlin.math.max

interface Greeter {
    fun greet(): String
}

class Hello(val name: String) : Greeter {
    override fun greet(): String = name
}

object Registry {
    fun register() {}
}

fun topLevel(x: Int) = x
val LIMIT = 3
""",
        {"Greeter": "interface", "Greeter.greet": "method", "Hello": "class",
         "Hello.greet": "method", "Registry": "class", "Registry.register": "method",
         "topLevel": "function", "LIMIT": "variable"},
        {"kotlin.math.max"},
    ),
}  # fmt: skip

# Languages whose grammar wheels are optional (tests skip them when missing).
OPTIONAL_SAMPLES: dict[str, tuple[str, dict[str, str], set[str]]] = {
    "mod.lua": (
        """local json = require("json")
local M = {}
function M.encode(x) return x end
function M:method() end
local function helper() end
""",
        {"M.encode": "method", "M.method": "method", "helper": "function"},
        {"json"},
    ),
    "App.scala": (
        """import scala.collection.mutable
object Main {
  def run(x: Int): Int = x
}
trait Shape { def area(): Double }
""",
        {"Main": "class", "Main.run": "method", "Shape": "trait", "Shape.area": "method"},
        {"scala.collection.mutable"},
    ),
    "App.swift": (
        """import Foundation
struct Point { var x = 1 }
protocol Shape { func area() -> Double }
class Circle: Shape {
    func area() -> Double { return 1.0 }
}
func top() {}
""",
        {"Point": "struct", "Shape": "interface", "Shape.area": "method", "Circle": "class",
         "Circle.area": "method", "top": "function"},
        {"Foundation"},
    ),
    "geo.zig": (
        """const std = @import("std");
const MAX: usize = 10;
pub const Point = struct {
    x: i32,
    pub fn norm(self: Point) i32 { return self.x; }
};
const Color = enum { red, green };
fn helper(a: i32) i32 { return a; }
""",
        {"MAX": "constant", "Point": "struct", "Point.norm": "method", "Color": "enum",
         "helper": "function"},
        {"std"},
    ),
    "Main.hs": (
        """module Main where
import Data.List (sort)
data Shape = Circle Double | Square Double
class Pretty a where
  pretty :: a -> String
type Name = String
area :: Shape -> Double
area (Circle r) = r
area (Square s) = s
main = print 1
""",
        {"Shape": "type", "Pretty": "interface", "Pretty.pretty": "method", "Name": "type",
         "area": "function", "main": "function"},
        {"Data.List"},
    ),
    "cart.ex": (
        """defmodule Shop.Cart do
  import Ecto.Query
  def add(cart, item), do: [item | cart]
  def total([]), do: 0
  def total([h | t]), do: h + total(t)
  defp helper(x) do
    x
  end
  defmacro sigil(x), do: x
end
""",
        {"Shop.Cart": "module", "Shop.Cart.add": "function", "Shop.Cart.total": "function",
         "Shop.Cart.helper": "function", "Shop.Cart.sigil": "macro"},
        {"Ecto.Query"},
    ),
    "shape.ml": (
        """open Printf
module Shape = struct
  type t = Circle of float
  let area s = 1.0
end
let max_size = 10
let rec fact n = if n = 0 then 1 else n * fact (n - 1)
""",
        {"Shape": "module", "Shape.t": "type", "Shape.area": "function",
         "max_size": "function", "fact": "function"},
        {"Printf"},
    ),
}  # fmt: skip
