// Command cie is the single binary of cie: hub, node, demo and tools.
package main

import (
	"os"

	"github.com/cancerimage/cie/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
