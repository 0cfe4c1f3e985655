package main

import "github.com/spf13/cobra"

// addCommands adds every verb to the root command.
func (c *ctl) addCommands(root *cobra.Command) {
	for _, l := range listings() {
		root.AddCommand(l.command(c))
	}
	for _, group := range [][]*cobra.Command{c.userCommands(), c.vhostCommands(), c.policyCommands(),
		c.queueCommands(), c.definitionCommands(), c.statusCommands()} {
		root.AddCommand(group...)
	}
}
