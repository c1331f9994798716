// Command protogen generates Go code for .proto files with nothing but Go:
// bufbuild/protocompile parses and links them, and protoc-gen-go's own
// generator, used as a library, writes the code. No protoc binary is
// needed, so a build or a CI run needs only the Go toolchain. The output
// equals protoc-gen-go's under protoc, except that the header names no
// protoc version.
//
// Usage (from go:generate): protogen -I DIR FILE.proto...
// Each FILE.pb.go is written next to its FILE.proto inside DIR.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	gengo "google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

func main() {
	importDir := flag.String("I", ".", "directory the .proto files and their imports are found in")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: protogen -I DIR FILE.proto...")
		os.Exit(2)
	}
	if err := generate(*importDir, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

// generate compiles files (paths relative to importDir) and writes their Go
// code into importDir.
func generate(importDir string, files []string) error {
	compiler := protocompile.Compiler{
		Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
			ImportPaths: []string{importDir},
		}),
		// Comments reach the generated code only with source info.
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	linked, err := compiler.Compile(context.Background(), files...)
	if err != nil {
		return fmt.Errorf("compiling %v: %w", files, err)
	}
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: files,
		Parameter:      proto.String("paths=source_relative"),
		ProtoFile:      dependencyOrder(linked),
	}
	plugin, err := protogen.Options{}.New(req)
	if err != nil {
		return fmt.Errorf("preparing the generator: %w", err)
	}
	for _, f := range plugin.Files {
		if f.Generate {
			gengo.GenerateFile(plugin, f)
		}
	}
	plugin.SupportedFeatures = gengo.SupportedFeatures
	plugin.SupportedEditionsMinimum = gengo.SupportedEditionsMinimum
	plugin.SupportedEditionsMaximum = gengo.SupportedEditionsMaximum
	resp := plugin.Response()
	if resp.Error != nil {
		return fmt.Errorf("generating: %s", resp.GetError())
	}
	for _, out := range resp.File {
		path := filepath.Join(importDir, out.GetName())
		if err := os.WriteFile(path, []byte(out.GetContent()), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return nil
}

// dependencyOrder lists the descriptors of files and of everything they
// import, each after its imports, as protoc hands them to a plugin.
func dependencyOrder(files linker.Files) []*descriptorpb.FileDescriptorProto {
	var ordered []*descriptorpb.FileDescriptorProto
	seen := map[string]bool{}
	var visit func(protoreflect.FileDescriptor)
	visit = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			visit(imports.Get(i).FileDescriptor)
		}
		ordered = append(ordered, protodesc.ToFileDescriptorProto(fd))
	}
	for _, f := range files {
		visit(f)
	}
	return ordered
}
